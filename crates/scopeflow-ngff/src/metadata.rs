//! The NGFF group attributes: multiscales (axes with types and units, one scale per level),
//! omero (channel labels, colours, display window from QC) and scopeflow's provenance.

use scopeflow_core::{Axis, AxisKind, ChannelQc, DType, ImageMeta};
use serde_json::{Map, Value, json};

use crate::options::NgffVersion;
use crate::plan::Plan;

fn axes_json(plan: &Plan, meta: &ImageMeta) -> Vec<Value> {
    plan.axes
        .iter()
        .map(|&a| {
            let mut m = Map::new();
            m.insert("name".into(), a.ngff_name().into());
            m.insert("type".into(), a.kind().ngff_name().into());
            let unit = match a.kind() {
                AxisKind::Space => meta.physical_unit.clone(),
                AxisKind::Time => meta.time_unit.clone(),
                AxisKind::Channel => None,
            };
            if let Some(u) = unit {
                m.insert("unit".into(), u.into());
            }
            Value::Object(m)
        })
        .collect()
}

fn base_scale(a: Axis, meta: &ImageMeta) -> f64 {
    let p = meta.physical_sizes.unwrap_or_default();
    match a {
        Axis::X => p.x,
        Axis::Y => p.y,
        Axis::Z => p.z,
        Axis::T => meta.time_increment,
        Axis::C | Axis::S => None,
    }
    .unwrap_or(1.0)
}

pub(crate) fn multiscales(
    plan: &Plan,
    meta: &ImageMeta,
    name: &str,
    version: NgffVersion,
) -> Value {
    let datasets: Vec<Value> = (0..plan.levels.len())
        .map(|k| {
            let scale: Vec<f64> = plan
                .axes
                .iter()
                .map(|&a| {
                    let f = if matches!(a, Axis::Y | Axis::X) { f64::from(1u32 << k.min(31)) } else { 1.0 };
                    base_scale(a, meta) * f
                })
                .collect();
            json!({"path": k.to_string(), "coordinateTransformations": [{"type": "scale", "scale": scale}]})
        })
        .collect();
    let mut ms = Map::new();
    if version == NgffVersion::V04 {
        ms.insert("version".into(), "0.4".into());
    }
    ms.insert("name".into(), name.into());
    ms.insert("axes".into(), axes_json(plan, meta).into());
    ms.insert("datasets".into(), datasets.into());
    ms.insert("type".into(), "mean (2x2, integers rounded)".into());
    Value::Array(vec![Value::Object(ms)])
}

/// Colour for a channel from its name's fluorophore, else by position.
fn colour(name: Option<&str>, index: usize, count: usize, rgb: bool) -> &'static str {
    if rgb {
        return ["FF0000", "00FF00", "0000FF"]
            .get(index)
            .copied()
            .unwrap_or("FFFFFF");
    }
    if count == 1 {
        return "FFFFFF";
    }
    let n = name.unwrap_or("").to_ascii_lowercase();
    let by_name = [
        (["dapi", "hoechst", "405", "blue"], "0000FF"),
        (["gfp", "fitc", "488", "green"], "00FF00"),
        (["mcherry", "rfp", "561", "cy3"], "FF0000"),
        (["cy5", "647", "far", "magenta"], "FF00FF"),
    ];
    for (keys, c) in by_name {
        if keys.iter().any(|k| n.contains(k)) {
            return c;
        }
    }
    ["00FF00", "FF00FF", "00FFFF", "FF0000", "0000FF", "FFFF00"][index % 6]
}

pub(crate) fn omero(meta: &ImageMeta, qc: &[ChannelQc]) -> Value {
    let (lo, hi) = match meta.dtype {
        DType::F32 | DType::F64 => (
            qc.iter()
                .filter_map(|c| c.min)
                .fold(f64::INFINITY, f64::min),
            qc.iter()
                .filter_map(|c| c.max)
                .fold(f64::NEG_INFINITY, f64::max),
        ),
        d => d.range(),
    };
    let (lo, hi) = if lo.is_finite() && hi.is_finite() {
        (lo, hi)
    } else {
        (0.0, 1.0)
    };
    let rgb = meta.samples() > 1;
    let channels: Vec<Value> = qc
        .iter()
        .map(|c| {
            let label = c.name.clone().unwrap_or_else(|| format!("Channel {}", c.index));
            json!({
                "label": label,
                "color": colour(c.name.as_deref(), c.index, qc.len(), rgb),
                "active": true,
                "coefficient": 1.0,
                "family": "linear",
                "inverted": false,
                "window": {"start": c.min.unwrap_or(lo), "end": c.max.unwrap_or(hi), "min": lo, "max": hi},
            })
        })
        .collect();
    json!({"channels": channels, "rdefs": {"model": if qc.len() > 1 { "color" } else { "greyscale" }}})
}

pub(crate) struct Provenance<'a> {
    pub source_name: &'a str,
    pub source_size: u64,
    pub sha256: &'a str,
    pub format: &'a str,
    pub parameters: Value,
    pub qc: Value,
}

pub(crate) fn provenance(p: &Provenance<'_>) -> Value {
    json!({
        "source": {"name": p.source_name, "size": p.source_size, "sha256": p.sha256, "format": p.format},
        "version": scopeflow_core::VERSION,
        "software": "scopeflow",
        "parameters": p.parameters,
        "qc": p.qc,
    })
}

/// The root group documents (file name, JSON) for the chosen layout.
pub(crate) fn group_files(
    version: NgffVersion,
    multiscales: Value,
    omero: Value,
    extra: Map<String, Value>,
) -> Vec<(&'static str, Value)> {
    match version {
        NgffVersion::V05 => {
            let mut attrs = Map::new();
            attrs.insert(
                "ome".into(),
                json!({"version": "0.5", "multiscales": multiscales, "omero": omero}),
            );
            attrs.extend(extra);
            vec![(
                "zarr.json",
                json!({"zarr_format": 3, "node_type": "group", "attributes": attrs}),
            )]
        }
        NgffVersion::V04 => {
            let mut attrs = Map::new();
            attrs.insert("multiscales".into(), multiscales);
            attrs.insert("omero".into(), omero);
            attrs.extend(extra);
            vec![
                (".zgroup", json!({"zarr_format": 2})),
                (".zattrs", Value::Object(attrs)),
            ]
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn colours_follow_fluorophores() {
        assert_eq!(colour(Some("DAPI"), 0, 3, false), "0000FF");
        assert_eq!(colour(Some("GFP"), 1, 3, false), "00FF00");
        assert_eq!(colour(Some("mCherry"), 2, 3, false), "FF0000");
        assert_eq!(colour(None, 0, 1, false), "FFFFFF");
        assert_eq!(colour(None, 2, 3, true), "0000FF");
    }
}
