//! Turns pages and first-page tags into axes, shape and metadata, per metadata flavour:
//! OME-XML, ImageJ, MetaMorph, tifffile's JSON description, or none (a page sequence is Z,
//! as ImageJ and Bio-Formats open it).

use serde_json::{Map, Value, json};

use scopeflow_core::{Axis, ImageMeta, PhysicalSizes, SeriesSummary, axes_string};

use super::codecs;
use super::imagej::ImageJInfo;
use super::metamorph::MetaMorphInfo;
use super::ome::{OmeDocument, OmeImage};
use super::pages::Page;
use crate::units::ngff_unit;

/// What the first page's tags say, gathered before interpretation.
#[derive(Default)]
pub(crate) struct FirstPageTags {
    pub description: Option<String>,
    pub software: Option<String>,
    pub datetime: Option<String>,
    pub make: Option<String>,
    pub model: Option<String>,
    pub x_resolution: Option<(u32, u32)>,
    pub y_resolution: Option<(u32, u32)>,
    pub resolution_unit: Option<u16>,
    pub metamorph: Option<MetaMorphInfo>,
    pub big_endian: bool,
    pub bigtiff: bool,
}

/// Axes, shape and metadata of one series, and the page its first plane is on.
pub(crate) struct Layout {
    pub meta: ImageMeta,
    pub first_page: usize,
}

/// Why a file's layout cannot be read.
pub(crate) enum LayoutError {
    /// The metadata contradicts the pages, or cannot be parsed.
    Metadata(String),
    /// The series asked for is past the end of the file's `count` series.
    NoSeries { count: usize },
}

impl From<String> for LayoutError {
    fn from(what: String) -> Self {
        LayoutError::Metadata(what)
    }
}

/// Lead (plane) axes and their sizes, slowest first, plus where the series starts.
struct Planes {
    lead: Vec<(Axis, usize)>,
    first_page: usize,
}

/// Interprets series `series` (0-based); only OME-TIFF holds more than one.
pub(crate) fn interpret(
    pages: &[Page],
    tags: FirstPageTags,
    series: usize,
) -> Result<Layout, LayoutError> {
    let desc = tags.description.as_deref().unwrap_or("");
    let ome = if looks_like_ome(desc) {
        Some(super::ome::parse_ome_xml(desc).map_err(|e| format!("OME-XML: {e}"))?)
    } else {
        None
    };
    let starts = ome.as_ref().map_or_else(|| vec![0], ome_series_starts);
    let start = *starts.get(series).ok_or(LayoutError::NoSeries {
        count: starts.len(),
    })?;
    let page0 = pages.get(start).ok_or_else(|| {
        format!(
            "series {series} starts at page {start} but the file has {} pages",
            pages.len()
        )
    })?;
    let dtype = page0.dtype.ok_or_else(|| {
        format!(
            "unsupported sample type: {} bits, SampleFormat {}",
            page0.bits, page0.sample_format
        )
    })?;
    let run = same_kind_run(pages, 0);
    let mut meta = ImageMeta {
        format: "tiff".into(),
        axes: vec![],
        shape: vec![],
        dtype,
        physical_sizes: None,
        physical_unit: None,
        time_increment: None,
        time_unit: None,
        channel_names: None,
        acquired_at: tags.datetime.as_deref().and_then(tiff_datetime),
        instrument: instrument_from_tags(&tags),
        metadata: Map::new(),
        ome_xml: None,
        series: vec![],
    };
    meta.metadata
        .insert("tiff".into(), tiff_summary(pages, &tags));

    let planes = if let Some(doc) = &ome {
        meta.format = "ome-tiff".into();
        meta.ome_xml = Some(desc.to_string());
        ome_planes(doc, series, &starts, page0, &mut meta)?
    } else if let Some(ij) = super::imagej::parse_imagej_description(desc) {
        meta.format = "imagej-tiff".into();
        imagej_planes(&ij, run, page0.samples, &tags, &mut meta)
    } else if let Some(p) = tifffile_planes(desc, page0, run, &mut meta) {
        p
    } else {
        if !desc.is_empty() {
            meta.metadata
                .insert("description".into(), clip(desc).into());
        }
        Planes {
            lead: vec![(Axis::Z, run)],
            first_page: 0,
        }
    };
    if let Some(mm) = &tags.metamorph {
        apply_metamorph(mm, &mut meta);
    }

    let needed: usize = planes.lead.iter().map(|&(_, n)| n).product();
    let available = same_kind_run(pages, planes.first_page);
    if needed > available || planes.first_page >= pages.len() {
        return Err(format!(
            "metadata describes {needed} planes from page {} but the file has {available} matching pages",
            planes.first_page
        )
        .into());
    }
    for (axis, n) in planes.lead.iter().copied().filter(|&(_, n)| n > 1) {
        meta.axes.push(axis);
        meta.shape.push(n);
    }
    meta.axes.extend([Axis::Y, Axis::X]);
    meta.shape.extend([page0.height, page0.width]);
    if page0.samples > 1 {
        meta.axes.push(Axis::S);
        meta.shape.push(page0.samples);
    }
    if meta.series.is_empty() {
        meta.series.push(SeriesSummary {
            index: 0,
            name: None,
            axes: axes_string(&meta.axes),
            shape: meta.shape.clone(),
            dtype: dtype.name().into(),
        });
    }
    if meta.physical_sizes.is_some_and(|p| p.is_empty()) {
        meta.physical_sizes = None;
    }
    if meta.physical_sizes.is_none() {
        meta.physical_unit = None;
    }
    if let Some(names) = &meta.channel_names
        && names.len() != meta.channel_count()
    {
        meta.channel_names = None;
    }
    Ok(Layout {
        meta,
        first_page: planes.first_page,
    })
}

/// Consecutive pages from `start` of the same geometry, skipping nothing: reduced-resolution
/// pages (thumbnails, pyramid levels) end the run.
fn same_kind_run(pages: &[Page], start: usize) -> usize {
    let Some(first) = pages.get(start) else {
        return 0;
    };
    pages[start..]
        .iter()
        .take_while(|p| p.same_kind(first) && !p.reduced)
        .count()
}

fn looks_like_ome(desc: &str) -> bool {
    let head = &desc[..desc.len().min(4096)];
    head.starts_with("<?xml") && head.contains("<OME") || head.starts_with("<OME")
}

fn clip(s: &str) -> String {
    if s.len() <= 4096 {
        return s.to_string();
    }
    let mut end = 4096;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &s[..end])
}

fn ome_dtype_name(pixel_type: &str) -> &str {
    match pixel_type {
        "float" => "float32",
        "double" => "float64",
        other => other,
    }
}

fn ome_image_axes(img: &OmeImage) -> (Vec<(Axis, usize)>, usize) {
    let lead = img.lead_axes();
    let planes = img.plane_count().unwrap_or(usize::MAX);
    (lead, planes)
}

/// The page each OME Image starts on: its lowest TiffData IFD, or the page after the previous
/// image's planes when it names none (tifffile writes series one after another).
fn ome_series_starts(doc: &OmeDocument) -> Vec<usize> {
    let mut next = 0usize;
    let starts: Vec<usize> = doc
        .images
        .iter()
        .map(|im| {
            let start = im
                .tiff_data
                .iter()
                .filter_map(|t| t.ifd)
                .min()
                .unwrap_or(next);
            next = start.saturating_add(ome_image_axes(im).1);
            start
        })
        .collect();
    if starts.is_empty() { vec![0] } else { starts }
}

fn ome_planes(
    doc: &OmeDocument,
    series: usize,
    starts: &[usize],
    page0: &Page,
    meta: &mut ImageMeta,
) -> Result<Planes, String> {
    let img = doc
        .images
        .get(series)
        .ok_or_else(|| "OME-XML holds no Image".to_string())?;
    if img.size_x != page0.width || img.size_y != page0.height {
        return Err(format!(
            "OME-XML says {}x{} pixels for Image {series} but its first page is {}x{}",
            img.size_x, img.size_y, page0.width, page0.height
        ));
    }
    let first_page = starts.get(series).copied().unwrap_or(0);
    for (i, im) in doc.images.iter().enumerate() {
        let (lead, _) = ome_image_axes(im);
        let mut axes: Vec<Axis> = lead
            .iter()
            .filter(|&&(_, n)| n > 1)
            .map(|&(a, _)| a)
            .collect();
        let mut shape: Vec<usize> = lead
            .iter()
            .filter(|&&(_, n)| n > 1)
            .map(|&(_, n)| n)
            .collect();
        axes.extend([Axis::Y, Axis::X]);
        shape.extend([im.size_y, im.size_x]);
        if im.samples_per_pixel() > 1 {
            axes.push(Axis::S);
            shape.push(im.samples_per_pixel());
        }
        meta.series.push(SeriesSummary {
            index: i,
            name: im.name.clone(),
            axes: axes_string(&axes),
            shape,
            dtype: ome_dtype_name(&im.pixel_type).into(),
        });
    }
    let (lead, _) = ome_image_axes(img);

    let mut phys = PhysicalSizes::default();
    let mut unit: Option<&'static str> = None;
    let sizes = [
        (
            &mut phys.x,
            img.physical_size_x,
            img.physical_size_x_unit.as_deref(),
        ),
        (
            &mut phys.y,
            img.physical_size_y,
            img.physical_size_y_unit.as_deref(),
        ),
        (
            &mut phys.z,
            img.physical_size_z,
            img.physical_size_z_unit.as_deref(),
        ),
    ];
    for (slot, value, u) in sizes {
        let Some(v) = value.filter(|v| *v > 0.0 && v.is_finite()) else {
            continue;
        };
        let u = ngff_unit(u.unwrap_or("µm")).unwrap_or("micrometer");
        match unit {
            None => {
                unit = Some(u);
                *slot = Some(v);
            }
            Some(common) => *slot = Some(convert_length(v, u, common)),
        }
    }
    meta.physical_sizes = Some(phys);
    meta.physical_unit = unit.map(String::from);
    if let Some(dt) = img.time_increment.filter(|v| *v > 0.0) {
        meta.time_increment = Some(dt);
        meta.time_unit = Some(
            ngff_unit(img.time_increment_unit.as_deref().unwrap_or("s"))
                .unwrap_or("second")
                .into(),
        );
    }
    let names: Vec<Option<String>> = img.channels.iter().map(|c| c.name.clone()).collect();
    if !names.is_empty()
        && names
            .iter()
            .all(|n| n.as_deref().is_some_and(|s| !s.is_empty()))
    {
        meta.channel_names = Some(names.into_iter().flatten().collect());
    }
    if let Some(date) = img.acquisition_date.as_deref().and_then(rfc3339) {
        meta.acquired_at = Some(date);
    }
    if let Some(instrument) = &img.instrument {
        meta.instrument = Some(instrument.clone());
    }
    meta.metadata.insert(
        "ome".into(),
        json!({
            "creator": doc.creator,
            "images": doc.images.len(),
            "name": img.name,
            "dimension_order": img.dimension_order,
            "pixel_type": img.pixel_type,
        }),
    );
    Ok(Planes { lead, first_page })
}

fn imagej_planes(
    ij: &ImageJInfo,
    run: usize,
    samples: usize,
    tags: &FirstPageTags,
    meta: &mut ImageMeta,
) -> Planes {
    let lead = ij.lead_axes_with_samples(run, samples);
    let mut ijmeta = ij.other.clone();
    ijmeta.insert("ImageJ".into(), ij.version.clone().into());
    for (k, v) in [
        ("images", ij.images),
        ("channels", ij.channels),
        ("slices", ij.slices),
        ("frames", ij.frames),
    ] {
        if let Some(v) = v {
            ijmeta.insert(k.into(), v.into());
        }
    }
    if let Some(m) = &ij.mode {
        ijmeta.insert("mode".into(), m.clone().into());
    }
    meta.metadata.insert("imagej".into(), Value::Object(ijmeta));
    if let Some(unit) = ij.unit.as_deref() {
        let inv = |r: Option<(u32, u32)>| {
            r.filter(|&(n, d)| n != 0 && d != 0)
                .map(|(n, d)| f64::from(d) / f64::from(n))
        };
        let phys = PhysicalSizes {
            x: inv(tags.x_resolution),
            y: inv(tags.y_resolution),
            z: ij.spacing.filter(|s| *s > 0.0),
        };
        if phys.x.is_some() || phys.y.is_some() {
            meta.physical_sizes = Some(phys);
            meta.physical_unit = ngff_unit(unit).map(String::from);
        }
    }
    if let Some(dt) = ij.finterval.filter(|v| *v > 0.0) {
        meta.time_increment = Some(dt);
        let tunit = ij.other.get("tunit").and_then(Value::as_str).unwrap_or("s");
        meta.time_unit = Some(ngff_unit(tunit).unwrap_or("second").into());
    }
    Planes {
        lead,
        first_page: 0,
    }
}

/// tifffile writes `{"shape": [...], "axes": "ZYX"}`; unknown axis letters (Q, I, …) are a
/// page sequence, reported as Z like every other reader does.
fn tifffile_planes(desc: &str, page0: &Page, run: usize, meta: &mut ImageMeta) -> Option<Planes> {
    if !desc.starts_with('{') {
        return None;
    }
    let v: Value = serde_json::from_str(desc).ok()?;
    let shape: Vec<usize> = v
        .get("shape")?
        .as_array()?
        .iter()
        .map(|x| x.as_u64().map(|n| n as usize))
        .collect::<Option<_>>()?;
    meta.metadata.insert("tifffile".into(), v.clone());
    let tail = if page0.samples > 1 { 3 } else { 2 };
    if shape.len() < tail {
        return None;
    }
    let lead_shape = &shape[..shape.len() - tail];
    let letters: Vec<char> = v
        .get("axes")
        .and_then(Value::as_str)
        .map(|s| s.chars().collect())
        .unwrap_or_default();
    let mut lead = Vec::new();
    let mut used = Vec::new();
    for (i, &n) in lead_shape.iter().enumerate() {
        let axis = letters
            .get(i)
            .and_then(|&c| Axis::from_letter(c))
            .filter(|a| matches!(a, Axis::T | Axis::C | Axis::Z) && !used.contains(a))
            .unwrap_or(Axis::Z);
        if used.contains(&axis) {
            return Some(Planes {
                lead: vec![(Axis::Z, run)],
                first_page: 0,
            });
        }
        used.push(axis);
        lead.push((axis, n));
    }
    let planes: usize = lead.iter().map(|&(_, n)| n).product();
    if planes > run || planes == 0 {
        return Some(Planes {
            lead: vec![(Axis::Z, run)],
            first_page: 0,
        });
    }
    Some(Planes {
        lead,
        first_page: 0,
    })
}

fn apply_metamorph(mm: &MetaMorphInfo, meta: &mut ImageMeta) {
    meta.format = "metamorph-tiff".into();
    if let (Some(x), Some(y)) = (mm.x_calibration, mm.y_calibration)
        && x > 0.0
        && y > 0.0
    {
        meta.physical_sizes = Some(PhysicalSizes {
            x: Some(x),
            y: Some(y),
            z: None,
        });
        meta.physical_unit = Some(
            ngff_unit(mm.calibration_units.as_deref().unwrap_or("um"))
                .unwrap_or("micrometer")
                .into(),
        );
    }
    if let Some(name) = &mm.name
        && !name.is_empty()
    {
        meta.channel_names = Some(vec![name.clone()]);
    }
    meta.metadata
        .insert("metamorph".into(), Value::Object(mm.other.clone()));
}

fn convert_length(v: f64, from: &str, to: &str) -> f64 {
    let metres = |u: &str| match u {
        "meter" => 1.0,
        "centimeter" => 1e-2,
        "millimeter" => 1e-3,
        "micrometer" => 1e-6,
        "nanometer" => 1e-9,
        "angstrom" => 1e-10,
        "picometer" => 1e-12,
        "inch" => 0.0254,
        _ => f64::NAN,
    };
    let f = metres(from) / metres(to);
    if f.is_finite() { v * f } else { v }
}

/// OME dates are ISO 8601, often without a zone; a missing zone is read as UTC.
fn rfc3339(s: &str) -> Option<String> {
    use chrono::{DateTime, NaiveDateTime};
    if let Ok(d) = DateTime::parse_from_rfc3339(s) {
        return Some(d.to_rfc3339());
    }
    NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S%.f")
        .ok()
        .map(|d| d.and_utc().to_rfc3339())
}

/// TIFF DateTime is `YYYY:MM:DD HH:MM:SS` in the acquisition PC's local time, zone unknown.
fn tiff_datetime(s: &str) -> Option<String> {
    chrono::NaiveDateTime::parse_from_str(s.trim(), "%Y:%m:%d %H:%M:%S")
        .ok()
        .map(|d| d.and_utc().to_rfc3339())
}

fn instrument_from_tags(tags: &FirstPageTags) -> Option<Value> {
    if tags.make.is_none() && tags.model.is_none() {
        return None;
    }
    Some(json!({"manufacturer": tags.make, "model": tags.model}))
}

fn tiff_summary(pages: &[Page], tags: &FirstPageTags) -> Value {
    let p = &pages[0];
    let mut m = Map::new();
    m.insert(
        "byte_order".into(),
        if tags.big_endian { "big" } else { "little" }.into(),
    );
    m.insert("bigtiff".into(), tags.bigtiff.into());
    m.insert("pages".into(), pages.len().into());
    m.insert("compression".into(), codecs::name(p.compression).into());
    m.insert("predictor".into(), p.predictor.into());
    m.insert("tiled".into(), p.tiled.into());
    m.insert("chunk_shape".into(), json!([p.chunk_height, p.chunk_width]));
    m.insert("photometric".into(), p.photometric.into());
    m.insert("samples_per_pixel".into(), p.samples.into());
    for (k, v) in [
        ("software", &tags.software),
        ("datetime", &tags.datetime),
        ("make", &tags.make),
        ("model", &tags.model),
    ] {
        if let Some(v) = v {
            m.insert(k.into(), v.clone().into());
        }
    }
    if let Some((n, d)) = tags.x_resolution {
        m.insert("x_resolution".into(), json!([n, d]));
    }
    if let Some((n, d)) = tags.y_resolution {
        m.insert("y_resolution".into(), json!([n, d]));
    }
    if let Some(u) = tags.resolution_unit {
        m.insert("resolution_unit".into(), u.into());
    }
    Value::Object(m)
}

#[cfg(test)]
mod tests {
    use super::*;
    use scopeflow_core::DType;

    #[test]
    fn dates_become_rfc3339() {
        assert_eq!(
            rfc3339("2019-06-27T18:33:40.619").as_deref(),
            Some("2019-06-27T18:33:40.619+00:00")
        );
        assert_eq!(
            tiff_datetime("2010:03:05 12:08:52").as_deref(),
            Some("2010-03-05T12:08:52+00:00")
        );
        assert_eq!(tiff_datetime("garbage"), None);
    }

    #[test]
    fn lengths_convert_between_units() {
        assert!((convert_length(500.0, "nanometer", "micrometer") - 0.5).abs() < 1e-12);
        assert_eq!(convert_length(2.0, "furlong", "micrometer"), 2.0);
    }

    #[test]
    fn dtype_names_follow_numpy() {
        assert_eq!(ome_dtype_name("float"), "float32");
        assert_eq!(DType::U16.name(), "uint16");
    }
}
