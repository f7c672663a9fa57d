//! Builds `ImageMeta` from the decoded ND2 metadata: channels from the picture planes, pixel
//! size from `dCalibration`, Z step from the Z loop, date from the Julian day number, and a
//! compact summary of the rest.

use scopeflow_core::{Axis, ImageMeta, PhysicalSizes, SeriesSummary, axes_string};
use serde_json::{Map, Value, json};

use super::layout::{ExpLoop, Frame, LoopAxis, elements, num, text};

/// Julian day number of 1970-01-01T00:00:00Z.
const JDN_UNIX_EPOCH: f64 = 2_440_587.5;
/// Free-text fields are kept, but not at any length.
const MAX_TEXT: usize = 2000;

/// How the frame's components map to the C and S axes.
pub(super) struct Channels {
    pub(super) count: usize,
    /// Interleaved samples per channel (3 for RGB, else 1).
    pub(super) samples: usize,
    pub(super) names: Option<Vec<String>>,
}

/// The picture planes: one per channel, each with `uiCompCount` components.
pub(super) fn channels(frame: &Frame, pic: &Map<String, Value>) -> Result<Channels, String> {
    let planes = pic.get("sPicturePlanes").and_then(Value::as_object);
    let declared = planes
        .and_then(|p| p.get("uiCount"))
        .and_then(Value::as_u64)
        .map_or(1, |n| n.max(1) as usize);
    let list = planes.map(|p| {
        let new = p.get("sPlaneNew").filter(|v| !elements(Some(v)).is_empty());
        elements(new.or_else(|| p.get("sPlane")))
    });
    let names: Option<Vec<String>> = list.and_then(|l| {
        (l.len() == declared).then(|| {
            l.iter()
                .map(|p| {
                    p.as_object()
                        .and_then(|p| text(p, "sDescription"))
                        .unwrap_or_default()
                })
                .collect()
        })
    });
    if frame.components / declared == 3 {
        if frame.components != declared * 3 {
            return Err(format!(
                "{} components do not split into {declared} RGB channels",
                frame.components
            ));
        }
        // One RGB channel has no C axis: its name would be read as the three samples' names.
        return Ok(Channels {
            count: declared,
            samples: 3,
            names: names.filter(|_| declared > 1),
        });
    }
    Ok(Channels {
        count: frame.components,
        samples: 1,
        names: names.filter(|_| declared == frame.components),
    })
}

/// Axes and shape of one series (a position): T C Z Y X (S), axes of length 1 dropped.
pub(super) fn axes_shape(
    frame: &Frame,
    ch: &Channels,
    loops: &[ExpLoop],
) -> (Vec<Axis>, Vec<usize>) {
    let len = |a| loops.iter().find(|l| l.axis == a).map_or(1, |l| l.count);
    let mut axes = Vec::new();
    let mut shape = Vec::new();
    for (axis, n) in [
        (Axis::T, len(LoopAxis::T)),
        (Axis::C, ch.count),
        (Axis::Z, len(LoopAxis::Z)),
    ] {
        if n > 1 {
            axes.push(axis);
            shape.push(n);
        }
    }
    axes.extend([Axis::Y, Axis::X]);
    shape.extend([frame.height, frame.width]);
    if ch.samples > 1 {
        axes.push(Axis::S);
        shape.push(ch.samples);
    }
    (axes, shape)
}

/// Everything `ImageMeta` needs that the decoded chunks hold.
pub(super) struct Sources<'a> {
    pub(super) version: (u32, u32),
    pub(super) frame: &'a Frame,
    pub(super) channels: &'a Channels,
    pub(super) loops: &'a [ExpLoop],
    pub(super) picture: &'a Map<String, Value>,
    pub(super) text_info: Option<&'a Map<String, Value>>,
    pub(super) experiment: Option<&'a Map<String, Value>>,
}

pub(super) fn image_meta(s: &Sources, series: usize) -> ImageMeta {
    let (axes, shape) = axes_shape(s.frame, s.channels, s.loops);
    let positions = s.loops.iter().find(|l| l.axis == LoopAxis::P);
    let count = positions.map_or(1, |p| p.count);
    let name = |i: usize| positions.and_then(|p| p.names.get(i).cloned().flatten());
    let series_list = (0..count)
        .map(|index| SeriesSummary {
            index,
            name: name(index),
            axes: axes_string(&axes),
            shape: shape.clone(),
            dtype: s.frame.dtype.name().to_string(),
        })
        .collect();
    let pic = s.picture;
    let calibrated = pic.get("bCalibrated").and_then(Value::as_bool) != Some(false);
    let xy = num(pic, "dCalibration").filter(|c| calibrated && *c > 0.0);
    let z = s
        .loops
        .iter()
        .find(|l| l.axis == LoopAxis::Z && l.count > 1)
        .and_then(|l| l.step_um);
    let physical = PhysicalSizes { x: xy, y: xy, z };
    let time = s
        .loops
        .iter()
        .find(|l| l.axis == LoopAxis::T && l.count > 1)
        .and_then(|l| l.period_ms)
        .filter(|p| *p > 0.0);
    ImageMeta {
        format: "nd2".into(),
        axes,
        shape,
        dtype: s.frame.dtype,
        physical_unit: (!physical.is_empty()).then(|| "micrometer".to_string()),
        physical_sizes: (!physical.is_empty()).then_some(physical),
        time_increment: time.map(|ms| ms / 1000.0),
        time_unit: time.map(|_| "second".to_string()),
        channel_names: s.channels.names.clone(),
        acquired_at: num(pic, "dTimeAbsolute").and_then(jdn_to_rfc3339),
        instrument: instrument(pic, s.experiment, s.text_info),
        metadata: summary(s, name(series)),
        ome_xml: None,
        series: series_list,
    }
}

/// A Julian day number (days since noon, 1 January 4713 BC, UTC) as RFC 3339.
fn jdn_to_rfc3339(jdn: f64) -> Option<String> {
    if !(1.0..1e8).contains(&jdn) {
        return None;
    }
    let secs = (jdn - JDN_UNIX_EPOCH) * 86_400.0;
    let whole = secs.floor();
    let nanos = ((secs - whole) * 1e9).round().min(999_999_999.0) as u32;
    chrono::DateTime::from_timestamp(whole as i64, nanos)
        .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true))
}

/// "Plan Apo 20x …" → 20: the magnification NIS-Elements writes into the optics text.
fn magnification_from_text(optics: &str) -> Option<f64> {
    let at = optics.find(['x', 'X'])?;
    let digits: String = optics[..at]
        .chars()
        .rev()
        .take_while(char::is_ascii_digit)
        .collect::<Vec<_>>()
        .into_iter()
        .rev()
        .collect();
    digits.parse().ok()
}

fn instrument(
    pic: &Map<String, Value>,
    exp: Option<&Map<String, Value>>,
    text_info: Option<&Map<String, Value>>,
) -> Option<Value> {
    let mut objective = Map::new();
    if let Some(name) = text(pic, "wsObjectiveName") {
        objective.insert("name".into(), name.into());
    }
    for (key, out) in [
        ("dObjectiveMag", "magnification"),
        ("dObjectiveNA", "numerical_aperture"),
        ("dRefractIndex1", "immersion_refractive_index"),
    ] {
        if let Some(v) = num(pic, key).filter(|v| *v > 0.0) {
            objective.insert(out.into(), v.into());
        }
    }
    if !objective.contains_key("magnification")
        && let Some(mag) = text_info
            .and_then(|t| text(t, "TextInfoItem_13"))
            .and_then(|o| magnification_from_text(&o))
            .filter(|m| *m > 0.0)
    {
        objective.insert("magnification".into(), mag.into());
    }
    let mut inst = Map::new();
    if !objective.is_empty() {
        inst.insert("objective".into(), objective.into());
    }
    if let Some(zoom) = num(pic, "dZoom").filter(|v| *v > 0.0) {
        inst.insert("zoom".into(), zoom.into());
    }
    if let Some(camera) = exp.and_then(|e| text(e, "wsCameraName")) {
        inst.insert("camera".into(), camera.into());
    }
    (!inst.is_empty()).then_some(Value::Object(inst))
}

fn clip(s: String) -> String {
    match s.char_indices().nth(MAX_TEXT) {
        Some((at, _)) => format!("{}…", &s[..at]),
        None => s,
    }
}

fn summary(s: &Sources, position: Option<String>) -> Map<String, Value> {
    let mut m = Map::new();
    m.insert(
        "nd2_version".into(),
        format!("{}.{}", s.version.0, s.version.1).into(),
    );
    let f = s.frame;
    m.insert(
        "compression".into(),
        if f.compressed { "lossless" } else { "none" }.into(),
    );
    m.insert("bits_significant".into(), f.bits_significant.into());
    m.insert("sequence_count".into(), f.sequence_count.into());
    let loops: Vec<Value> = s
        .loops
        .iter()
        .map(|l| json!({"axis": format!("{:?}", l.axis), "count": l.count}))
        .collect();
    m.insert("loops".into(), loops.into());
    if let Some(p) = position {
        m.insert("position_name".into(), p.into());
    }
    if let Some(ti) = s.text_info {
        let mut t = Map::new();
        for (i, key) in [
            "image_id",
            "type",
            "group",
            "sample_id",
            "author",
            "description",
            "capturing",
            "sampling",
            "location",
            "date",
            "conclusion",
            "info1",
            "info2",
            "optics",
            "app_version",
        ]
        .iter()
        .enumerate()
        {
            if let Some(v) = text(ti, &format!("TextInfoItem_{i}")) {
                t.insert((*key).into(), clip(v).into());
            }
        }
        if !t.is_empty() {
            m.insert("text_info".into(), t.into());
        }
    }
    m
}
