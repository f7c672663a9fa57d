//! Which QC rules a processed file breaks, from the QC document it carries to destinations.

use scopeflow_journal::NewAlarm;
use scopeflow_pipeline::{Limit, QcConfig};
use serde_json::Value;

/// The alarms of one file: for each channel of `doc` (`{"inspect": …, "qc": {"channels": …}}`)
/// and each rule that applies to it, the figure that breaks it. A figure the QC does not give
/// (an SNR without background spread) breaks no rule: there is nothing to compare.
pub(crate) fn evaluate(doc: &Value, cfg: &QcConfig, pipeline_name: &str) -> Vec<NewAlarm> {
    let instrument = doc["inspect"]["instrument"]
        .as_str()
        .filter(|s| !s.is_empty())
        .unwrap_or(pipeline_name)
        .to_owned();
    let Some(channels) = doc["qc"]["channels"].as_array() else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for (position, ch) in channels.iter().enumerate() {
        let index = ch["index"]
            .as_u64()
            .and_then(|i| usize::try_from(i).ok())
            .unwrap_or(position);
        let name = ch["name"].as_str();
        let rules = cfg.rules_for(index, name);
        let checks: [(&str, Option<Limit>, &str, bool); 3] = [
            (
                "saturation_max",
                rules.saturation_max,
                "saturation_fraction",
                true,
            ),
            ("snr_min", rules.snr_min, "snr", false),
            ("focus_min", rules.focus_min, "focus", false),
        ];
        for (rule, limit, key, is_max) in checks {
            let (Some(Limit(threshold)), Some(value)) = (limit, ch[key].as_f64()) else {
                continue;
            };
            let broken = if is_max {
                value > threshold
            } else {
                value < threshold
            };
            if broken {
                out.push(NewAlarm {
                    channel: index,
                    channel_name: name.map(str::to_owned),
                    rule: rule.to_owned(),
                    value: Some(value),
                    threshold,
                    instrument: instrument.clone(),
                });
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use scopeflow_pipeline::{ChannelKey, QcRules};

    #[test]
    fn rules_per_channel() {
        let cfg = QcConfig {
            rules: QcRules {
                saturation_max: Some(Limit(0.001)),
                snr_min: Some(Limit(5.0)),
                focus_min: None,
            },
            channels: vec![(
                ChannelKey::Name("GFP".into()),
                QcRules {
                    snr_min: Some(Limit(1.0)),
                    ..QcRules::default()
                },
            )],
            notify: Vec::new(),
        };
        let doc = serde_json::json!({
            "inspect": {"instrument": null},
            "qc": {"channels": [
                {"index": 0, "name": "DAPI", "saturation_fraction": 0.01, "snr": 3.0, "focus": 0.1},
                {"index": 1, "name": "GFP", "saturation_fraction": 0.0, "snr": 3.0, "focus": 0.1},
                {"index": 2, "name": null, "saturation_fraction": 0.001, "snr": null},
            ]}
        });
        let got: Vec<(usize, String)> = evaluate(&doc, &cfg, "scope1")
            .into_iter()
            .map(|a| (a.channel, a.rule))
            .collect();
        assert_eq!(
            got,
            [(0, "saturation_max".to_owned()), (0, "snr_min".to_owned())]
        );
        assert_eq!(evaluate(&doc, &cfg, "scope1")[0].instrument, "scope1");
    }
}
