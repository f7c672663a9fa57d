//! `ImageMeta` from an Imaris file's `DataSetInfo`: extents and unit, channel names, dates.

use chrono::{DateTime, NaiveDateTime};
use hdf5::{File, Location};
use scopeflow_core::{Axis, ImageMeta, PhysicalSizes, SeriesSummary};
use serde_json::{Map, Value, json};

use super::attrs;
use super::layout::Layout;

/// Longest free text (descriptions) kept in the metadata summary.
const MAX_TEXT: usize = 2000;

pub(super) fn build(file: &File, layout: &Layout) -> ImageMeta {
    let [nz, ny, nx] = layout.size;
    let mut axes = Vec::new();
    let mut shape = Vec::new();
    for (axis, n) in [
        (Axis::T, layout.times),
        (Axis::C, layout.channels),
        (Axis::Z, nz),
    ] {
        if n > 1 {
            axes.push(axis);
            shape.push(n);
        }
    }
    axes.extend([Axis::Y, Axis::X]);
    shape.extend([ny, nx]);

    let info = |name: &str| -> Option<hdf5::Group> {
        let dir = layout.info.as_ref()?;
        let path = format!("{dir}/{name}");
        if file.link_exists(&path) {
            file.group(&path).ok()
        } else {
            None
        }
    };
    let image = info("Image");
    let channels: Vec<Option<hdf5::Group>> = (0..layout.channels)
        .map(|c| info(&format!("Channel {c}")))
        .collect();

    let physical_sizes = image.as_ref().and_then(|g| physical_sizes(g, layout));
    let names: Vec<String> = channels
        .iter()
        .map(|g| {
            g.as_ref()
                .and_then(|g| attrs::text(g, "Name"))
                .and_then(given)
                .unwrap_or_default()
        })
        .collect();
    let channel_names = names.iter().any(|n| !n.is_empty()).then_some(names);
    let acquired_at = image
        .as_ref()
        .and_then(|g| attrs::text(g, "RecordingDate"))
        .and_then(|s| rfc3339(&s));
    let time_increment = info("TimeInfo").and_then(|g| time_increment(&g, layout.times));

    let mut metadata = Map::new();
    let mut put = |key: &str, value: Option<String>| {
        if let Some(v) = value.and_then(given) {
            metadata.insert(key.into(), Value::String(cut(v)));
        }
    };
    put("imaris_version", attrs::text(file, "ImarisVersion"));
    if let Some(g) = &image {
        put("name", attrs::text(g, "Name"));
        put("description", attrs::text(g, "Description"));
        put("recording_date", attrs::text(g, "RecordingDate"));
        put("unit", attrs::text(g, "Unit"));
    }
    metadata.insert("resolution_levels".into(), layout.resolution_levels.into());
    metadata.insert("stored_shape".into(), json!(layout.stored));
    if let Some(chunk) = &layout.chunk {
        metadata.insert("chunks".into(), json!(chunk));
    }
    metadata.insert("filters".into(), json!(layout.filters));
    let per_channel: Vec<Value> = channels
        .iter()
        .map(|g| {
            let mut m = Map::new();
            for (key, attr) in [
                ("name", "Name"),
                ("color", "Color"),
                ("excitation_wavelength", "LSMExcitationWavelength"),
                ("emission_wavelength", "LSMEmissionWavelength"),
                ("description", "Description"),
            ] {
                if let Some(v) = g
                    .as_ref()
                    .and_then(|g| attrs::text(g, attr))
                    .and_then(given)
                {
                    m.insert(key.into(), Value::String(cut(v)));
                }
            }
            Value::Object(m)
        })
        .take(64)
        .collect();
    if per_channel
        .iter()
        .any(|v| v.as_object().is_some_and(|m| !m.is_empty()))
    {
        metadata.insert("channels".into(), Value::Array(per_channel));
    }

    let instrument = instrument(
        image.as_deref(),
        channels.first().and_then(|g| g.as_deref()),
    );
    let axes_string = scopeflow_core::axes_string(&axes);
    ImageMeta {
        format: "imaris".into(),
        series: vec![SeriesSummary {
            index: 0,
            name: None,
            axes: axes_string,
            shape: shape.clone(),
            dtype: layout.dtype.name().into(),
        }],
        axes,
        shape,
        dtype: layout.dtype,
        physical_unit: physical_sizes.map(|_| "micrometer".to_owned()),
        physical_sizes,
        time_unit: time_increment.map(|_| "second".to_owned()),
        time_increment,
        channel_names,
        acquired_at,
        instrument,
        metadata,
        ome_xml: None,
    }
}

/// A value the file actually gives: not empty and not Imaris' placeholder
/// (`(name not specified)`, `(description not specified)`).
fn given(s: String) -> Option<String> {
    let placeholder = s.starts_with('(') && s.ends_with(" not specified)");
    (!s.is_empty() && !placeholder).then_some(s)
}

fn cut(mut s: String) -> String {
    if s.len() > MAX_TEXT {
        let mut end = MAX_TEXT;
        while !s.is_char_boundary(end) {
            end -= 1;
        }
        s.truncate(end);
        s.push('…');
    }
    s
}

/// Micrometres per unit of the file's `Unit` (Imaris' default, when absent, is µm).
fn unit_factor(unit: Option<&str>) -> Option<f64> {
    let Some(unit) = unit.filter(|u| !u.is_empty()) else {
        return Some(1.0);
    };
    Some(match crate::units::ngff_unit(unit)? {
        "micrometer" => 1.0,
        "nanometer" => 1e-3,
        "picometer" => 1e-6,
        "angstrom" => 1e-4,
        "millimeter" => 1e3,
        "centimeter" => 1e4,
        "meter" => 1e6,
        _ => return None,
    })
}

/// (ExtMax − ExtMin) / size per axis; Z only when the image has a Z axis.
fn physical_sizes(image: &Location, layout: &Layout) -> Option<PhysicalSizes> {
    let factor = unit_factor(attrs::text(image, "Unit").as_deref())?;
    let [nz, ny, nx] = layout.size;
    let extent = |i: usize, n: usize| -> Option<f64> {
        let min = attrs::real(image, &format!("ExtMin{i}"))?;
        let max = attrs::real(image, &format!("ExtMax{i}"))?;
        let size = (max - min) / n as f64 * factor;
        (size.is_finite() && size > 0.0).then_some(size)
    };
    let sizes = PhysicalSizes {
        x: extent(0, nx),
        y: extent(1, ny),
        z: if nz > 1 { extent(2, nz) } else { None },
    };
    (!sizes.is_empty()).then_some(sizes)
}

/// Objective and microscope keys some Imaris writers put on the image or first channel.
fn instrument(image: Option<&Location>, channel: Option<&Location>) -> Option<Value> {
    let mut m = Map::new();
    for (key, attr) in [
        ("objective", "Objective"),
        ("objective", "ObjectiveName"),
        ("numerical_aperture", "NumericalAperture"),
        ("magnification", "LensPower"),
        ("microscope_mode", "MicroscopeMode"),
        ("microscope", "Microscope"),
    ] {
        let value = image
            .and_then(|g| attrs::text(g, attr))
            .or_else(|| channel.and_then(|g| attrs::text(g, attr)));
        if let Some(v) = value.and_then(given) {
            m.entry(key).or_insert(Value::String(cut(v)));
        }
    }
    (!m.is_empty()).then_some(Value::Object(m))
}

/// Imaris dates (`2026-11-20 14:03:12.000`) carry no zone: they are taken as UTC unless the
/// text gives an offset.
pub(super) fn rfc3339(s: &str) -> Option<String> {
    let s = s.trim();
    if let Ok(d) = DateTime::parse_from_rfc3339(s) {
        return Some(d.to_rfc3339());
    }
    for fmt in ["%Y-%m-%d %H:%M:%S%.f%:z", "%Y-%m-%d %H:%M:%S%.f %z"] {
        if let Ok(d) = DateTime::parse_from_str(s, fmt) {
            return Some(d.to_rfc3339());
        }
    }
    naive(s).map(|d| d.and_utc().to_rfc3339())
}

fn naive(s: &str) -> Option<NaiveDateTime> {
    [
        "%Y-%m-%d %H:%M:%S%.f",
        "%Y-%m-%dT%H:%M:%S%.f",
        "%Y-%m-%d %H:%M:%S",
    ]
    .iter()
    .find_map(|fmt| NaiveDateTime::parse_from_str(s.trim(), fmt).ok())
}

/// Mean interval between `TimePoint1` and `TimePoint{n}` of `DataSetInfo/TimeInfo`, seconds.
fn time_increment(time_info: &Location, times: usize) -> Option<f64> {
    if times < 2 {
        return None;
    }
    let first = naive(&attrs::text(time_info, "TimePoint1")?)?;
    let last = naive(&attrs::text(time_info, &format!("TimePoint{times}"))?)?;
    let span = (last - first).num_microseconds()? as f64 / 1e6;
    let dt = span / (times - 1) as f64;
    (dt.is_finite() && dt > 0.0).then_some(dt)
}

#[cfg(test)]
mod tests {
    use super::{given, rfc3339, unit_factor};

    #[test]
    fn imaris_placeholders_are_no_value() {
        assert_eq!(given("(name not specified)".into()), None);
        assert_eq!(given("(description not specified)".into()), None);
        assert_eq!(given(String::new()), None);
        assert_eq!(
            given("DAPI (nuclei)".into()).as_deref(),
            Some("DAPI (nuclei)")
        );
    }

    #[test]
    fn imaris_dates_are_utc_unless_zoned() {
        assert_eq!(
            rfc3339("2026-11-20 14:03:12.000").as_deref(),
            Some("2026-11-20T14:03:12+00:00")
        );
        assert_eq!(
            rfc3339("2026-11-20 14:03:12").as_deref(),
            Some("2026-11-20T14:03:12+00:00")
        );
        assert_eq!(
            rfc3339("2026-11-20 14:03:12.500+01:00").as_deref(),
            Some("2026-11-20T14:03:12.500+01:00")
        );
        assert_eq!(rfc3339("yesterday"), None);
    }

    #[test]
    fn units_scale_to_micrometres() {
        assert_eq!(unit_factor(Some("um")), Some(1.0));
        assert_eq!(unit_factor(Some("nm")), Some(1e-3));
        assert_eq!(unit_factor(None), Some(1.0));
        assert_eq!(unit_factor(Some("furlong")), None);
    }
}
