//! `ImageMeta` of a LIF series: geometry from the layout, a short summary of the XML.

use chrono::{DateTime, SecondsFormat};
use scopeflow_core::{DType, ImageMeta, SeriesSummary, axes_string};
use serde_json::{Map, Value, json};

use super::layout::{Layout, dim_label};
use super::xml::{Header, ImageDesc};

/// Every series of the file, in order, for `ImageMeta::series`.
pub(super) fn summaries(all: &[(usize, Layout)]) -> Vec<SeriesSummary> {
    all.iter()
        .enumerate()
        .map(|(index, (_, l))| SeriesSummary {
            index,
            name: Some(l.name.clone()),
            axes: axes_string(&l.axes),
            shape: l.shape.clone(),
            dtype: match &l.dtype {
                Ok(d) => d.name().to_string(),
                Err(t) => t.clone(),
            },
        })
        .collect()
}

/// Windows FILETIME (100 ns ticks since 1601-01-01 UTC) as RFC 3339.
fn filetime_rfc3339(ticks: u64) -> Option<String> {
    const UNIX_EPOCH_TICKS: u64 = 116_444_736_000_000_000;
    let since = ticks.checked_sub(UNIX_EPOCH_TICKS)?;
    let secs = i64::try_from(since / 10_000_000).ok()?;
    let nanos = u32::try_from((since % 10_000_000) * 100).ok()?;
    // Years before 1980 mean an unset clock, not a real acquisition.
    (secs > 315_532_800).then_some(())?;
    DateTime::from_timestamp(secs, nanos).map(|d| d.to_rfc3339_opts(SecondsFormat::Millis, true))
}

fn hw<'a>(img: &'a ImageDesc, key: &str) -> Option<&'a str> {
    img.hardware
        .iter()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.trim())
        .filter(|v| !v.is_empty())
}

/// `{"microscope": {..}, "objectives": [..]}`, the keys the OME reader uses.
fn instrument(img: &ImageDesc) -> Option<Value> {
    let mut doc = Map::new();
    let mut mic = Map::new();
    if let Some(m) = hw(img, "MicroscopeModel") {
        mic.insert("Model".into(), m.into());
        mic.insert("Manufacturer".into(), "Leica Microsystems".into());
    }
    match hw(img, "IsInverseMicroscopeModel") {
        Some("1") => mic.insert("Type".into(), "Inverted".into()),
        Some("0") => mic.insert("Type".into(), "Upright".into()),
        _ => None,
    };
    if let Some(s) = hw(img, "SystemSerialNumber") {
        mic.insert("SerialNumber".into(), s.into());
    }
    if !mic.is_empty() {
        doc.insert("microscope".into(), Value::Object(mic));
    }
    let mut obj = Map::new();
    if let Some(n) = hw(img, "ObjectiveName") {
        obj.insert("Model".into(), n.into());
    }
    let number = |k: &str| hw(img, k).and_then(|v| v.parse::<f64>().ok());
    if let Some(m) = number("Magnification") {
        obj.insert("NominalMagnification".into(), m.into());
    }
    if let Some(na) = number("NumericalAperture") {
        obj.insert("LensNA".into(), na.into());
    }
    if let Some(i) = hw(img, "Immersion") {
        obj.insert("Immersion".into(), i.into());
    }
    if !obj.is_empty() {
        doc.insert("objectives".into(), json!([obj]));
    }
    (!doc.is_empty()).then_some(Value::Object(doc))
}

/// A compact summary of the vendor metadata: the dimensions as stored and where each went.
fn summary(header: &Header, img: &ImageDesc, l: &Layout) -> Map<String, Value> {
    let mut m = Map::new();
    m.insert("lif_version".into(), header.version.into());
    m.insert("image_path".into(), img.path.clone().into());
    let dims: Vec<Value> = img
        .dims
        .iter()
        .map(|d| {
            json!({"id": d.id, "name": dim_label(d.id), "size": d.n, "origin": d.origin,
                   "length": d.length, "unit": d.unit})
        })
        .collect();
    m.insert("dimensions".into(), dims.into());
    let luts: Vec<Value> = img.channels.iter().map(|c| c.lut.clone().into()).collect();
    m.insert("channel_luts".into(), luts.into());
    m.insert(
        "resolution_bits".into(),
        img.channels
            .first()
            .map_or(Value::Null, |c| c.resolution.into()),
    );
    let mapping: Map<String, Value> = l
        .mapping
        .iter()
        .map(|(a, src)| (a.to_string(), json!(src)))
        .collect();
    m.insert("axis_mapping".into(), mapping.into());
    if let Some((k, n)) = l.tile {
        m.insert("mosaic_tile".into(), json!({"index": k, "count": n}));
    }
    for key in ["ScanMode", "UserSettingName"] {
        if let Some(v) = hw(img, key) {
            m.insert(key.to_string(), v.into());
        }
    }
    m
}

pub(super) fn image_meta(
    header: &Header,
    img: &ImageDesc,
    l: &Layout,
    dtype: DType,
    series: Vec<SeriesSummary>,
) -> ImageMeta {
    let physical = (!l.physical.is_empty()).then_some(l.physical);
    ImageMeta {
        format: "lif".into(),
        axes: l.axes.clone(),
        shape: l.shape.clone(),
        dtype,
        physical_unit: physical.map(|_| "micrometer".to_string()),
        physical_sizes: physical,
        time_increment: l.time_increment,
        time_unit: l.time_increment.map(|_| "second".to_string()),
        channel_names: None,
        acquired_at: img
            .first_timestamp
            .or(header.experiment_timestamp)
            .and_then(filetime_rfc3339),
        instrument: instrument(img),
        metadata: summary(header, img, l),
        ome_xml: None,
        series,
    }
}

#[cfg(test)]
mod tests {
    use super::filetime_rfc3339;

    #[test]
    fn filetime_converts_to_utc() {
        // 2021-01-30T00:00:00Z is 1611964800 s after the Unix epoch.
        let ticks = (1_611_964_800u64 * 10_000_000) + 116_444_736_000_000_000;
        assert_eq!(
            filetime_rfc3339(ticks).as_deref(),
            Some("2021-01-30T00:00:00.000Z")
        );
        assert_eq!(filetime_rfc3339(0), None);
    }
}
