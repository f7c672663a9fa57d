//! OME-XML (the ImageDescription of an OME-TIFF) reduced to what a converter needs.
//!
//! The parser streams with quick-xml instead of building a tree: Bio-Formats embeds the whole
//! original vendor metadata as annotations (290 KB in the AICS sample), and none of it is
//! needed. Elements are matched by local name and by their position under the root, never by
//! namespace, because every schema year (2008-02 … 2016-06) uses a different namespace URI and
//! annotations may contain foreign elements that happen to be called `Image` or `Channel`.
//!
//! Behaviour follows tifffile's `_series_ome`, the reference the ground truth was made with:
//! the first `Pixels` of an `Image` counts, the first `Channel`'s `SamplesPerPixel` divides
//! `SizeC`, `TiffData` without `PlaneCount` may use the older `NumPlanes`.

use quick_xml::events::{BytesStart, Event};
use scopeflow_core::Axis;
use serde_json::{Map, Value};

use crate::xml::{Attrs, attributes, get, next_event, reader};

/// Everything read from one OME-XML document.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct OmeDocument {
    pub creator: Option<String>,
    /// The root `UUID`; `TiffData/UUID` equal to it (or absent) means "this file".
    pub uuid: Option<String>,
    pub images: Vec<OmeImage>,
}

/// One `Image` (a series, in Bio-Formats terms).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct OmeImage {
    pub id: Option<String>,
    pub name: Option<String>,
    /// As written (OME dates have no time zone; turning them into RFC 3339 is the caller's
    /// decision). Older schemas' `AcquiredDate` / `CreationDate` are read too.
    pub acquisition_date: Option<String>,
    /// Fastest-varying first, e.g. `XYCZT`: always a permutation of `XYZCT` starting with `XY`.
    pub dimension_order: String,
    pub size_x: usize,
    pub size_y: usize,
    pub size_z: usize,
    /// Counts samples, not channels, when a channel has `SamplesPerPixel` > 1 (RGB); see
    /// [`OmeImage::lead_axes`].
    pub size_c: usize,
    pub size_t: usize,
    /// As written: `uint16`, `float`, … (older schemas' `PixelType`); empty when missing, as the
    /// TIFF tags are authoritative for the pixel type anyway.
    pub pixel_type: String,
    pub big_endian: Option<bool>,
    pub significant_bits: Option<u32>,
    pub interleaved: Option<bool>,
    /// Sizes are `None` unless finite and > 0 (writers put 0 for "unknown"); the unit is the
    /// OME default `µm` when a size is present without one, and `None` without a size.
    pub physical_size_x: Option<f64>,
    pub physical_size_x_unit: Option<String>,
    pub physical_size_y: Option<f64>,
    pub physical_size_y_unit: Option<String>,
    pub physical_size_z: Option<f64>,
    pub physical_size_z_unit: Option<String>,
    /// Unit defaults to `s` like in the schema.
    pub time_increment: Option<f64>,
    pub time_increment_unit: Option<String>,
    /// `Pixels/Channel`, or the 2008 schema's `Image/LogicalChannel` when there are none.
    pub channels: Vec<OmeChannel>,
    /// The `Instrument` named by `InstrumentRef`, else the document's first one, as
    /// `{"id", "microscope": {..}, "objectives": [..], "detectors": [..], "light_sources": [..]}`
    /// whose inner objects keep OME attribute names (`Model`, `LensNA`, …); numeric attributes
    /// are JSON numbers. Empty parts are left out.
    pub instrument: Option<Value>,
    /// `ObjectiveSettings` of this image (which objective, immersion medium, refractive index).
    pub objective_settings: Option<Value>,
    pub tiff_data: Vec<TiffData>,
}

/// One `Channel` of a `Pixels` element.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct OmeChannel {
    pub id: Option<String>,
    pub name: Option<String>,
    pub samples_per_pixel: Option<usize>,
    /// RGBA packed in a signed 32-bit integer, as OME defines it (`-1` is opaque white);
    /// writers that print it unsigned are wrapped into the same value.
    pub color: Option<i32>,
    pub fluor: Option<String>,
    pub emission_wavelength: Option<f64>,
    /// Defaults to `nm` when the wavelength is present.
    pub emission_wavelength_unit: Option<String>,
    pub excitation_wavelength: Option<f64>,
    pub excitation_wavelength_unit: Option<String>,
}

/// One `TiffData` block: which IFDs hold which planes. All attributes are optional in OME;
/// absent ones keep their schema meaning (IFD 0, First* 0, PlaneCount "1 if IFD is given, else
/// all"), which is left to the caller because it depends on the file's IFD count.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TiffData {
    pub ifd: Option<usize>,
    pub first_z: Option<usize>,
    pub first_c: Option<usize>,
    pub first_t: Option<usize>,
    /// `PlaneCount`, or the pre-2010 `NumPlanes`.
    pub plane_count: Option<usize>,
    /// `UUID` text: which file of a multi-file set holds these IFDs.
    pub uuid: Option<String>,
    /// `UUID FileName` (a hint only: it can be stale, e.g. the CellProfiler sample says
    /// `largeimg.ome.tif` while the file is `.tiff`).
    pub file_name: Option<String>,
}

impl OmeImage {
    /// Samples per pixel of the first channel, as tifffile decides it (1 when absent).
    pub fn samples_per_pixel(&self) -> usize {
        self.channels
            .first()
            .and_then(|c| c.samples_per_pixel)
            .filter(|&s| s >= 1)
            .unwrap_or(1)
    }

    /// T, Z and C ordered slowest to fastest as the IFDs enumerate planes (DimensionOrder read
    /// backwards), with C counted in channels, not samples. Size-1 axes are kept, because
    /// `TiffData` First* indices are positions in exactly this shape; squeeze them for display.
    pub fn lead_axes(&self) -> Vec<(Axis, usize)> {
        let spp = self.samples_per_pixel();
        self.dimension_order
            .chars()
            .rev()
            .filter_map(|ch| match ch {
                'T' => Some((Axis::T, self.size_t)),
                'Z' => Some((Axis::Z, self.size_z)),
                'C' => Some((Axis::C, (self.size_c / spp).max(1))),
                _ => None,
            })
            .collect()
    }

    /// Number of planes (IFDs) the image should span; `None` if the product overflows, which
    /// only a corrupt or hostile header produces.
    pub fn plane_count(&self) -> Option<usize> {
        self.lead_axes()
            .iter()
            .try_fold(1usize, |acc, &(_, n)| acc.checked_mul(n))
    }
}

/// Parse an OME-XML document.
///
/// Errors name the problem (`Image 0: SizeX is not a number: 'abc'`, `no Pixels element in
/// Image 0`, malformed XML with its byte position) so that the reader can log why it fell back
/// to reading the file as a plain TIFF, which is what tifffile does too.
pub fn parse_ome_xml(xml: &str) -> Result<OmeDocument, String> {
    let mut reader = reader(xml);
    let mut p = Parser::default();
    loop {
        let event = next_event(&mut reader, "OME-XML")?;
        match event {
            Event::Start(e) => {
                let name = e.local_name().as_ref().to_string();
                p.open(&e, &name)?;
                p.stack.push(name);
            }
            Event::Empty(e) => {
                let name = e.local_name().as_ref().to_string();
                p.open(&e, &name)?;
                p.stack.push(name);
                p.close()?;
            }
            Event::End(_) => {
                // quick-xml has already checked that the name matches the open element.
                p.close()?;
            }
            Event::Text(t) => p.text(&t.xml10_content()),
            Event::CData(t) => p.text(&t.xml10_content()),
            Event::GeneralRef(r) => {
                if p.capture.is_some() {
                    let resolved = match r.resolve_char_ref() {
                        Ok(Some(c)) => c.to_string(),
                        _ => {
                            let name = r.xml10_content();
                            match quick_xml::escape::resolve_predefined_entity(&name) {
                                Some(s) => s.to_string(),
                                None => format!("&{name};"),
                            }
                        }
                    };
                    p.text(&resolved);
                }
            }
            Event::Eof => break,
            Event::Comment(_) | Event::Decl(_) | Event::PI(_) | Event::DocType(_) => {}
        }
        if p.root_closed {
            // Trailing bytes (NULs, junk) after </OME> are common in TIFF descriptions.
            break;
        }
    }
    if let Some(open) = p.stack.last() {
        return Err(format!("OME-XML ends inside <{open}>"));
    }
    if !p.root_seen {
        return Err("no OME root element".to_string());
    }
    p.finish()
}

/// Where a text node goes while it is being collected.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Capture {
    Date,
    Uuid,
}

#[derive(Default)]
struct InstrumentBuilder {
    id: Option<String>,
    microscope: Option<Map<String, Value>>,
    objectives: Vec<Value>,
    detectors: Vec<Value>,
    light_sources: Vec<Value>,
}

impl InstrumentBuilder {
    fn into_json(self) -> Value {
        let mut m = Map::new();
        if let Some(id) = self.id {
            m.insert("id".into(), Value::String(id));
        }
        if let Some(mic) = self.microscope {
            m.insert("microscope".into(), Value::Object(mic));
        }
        for (key, list) in [
            ("objectives", self.objectives),
            ("detectors", self.detectors),
            ("light_sources", self.light_sources),
        ] {
            if !list.is_empty() {
                m.insert(key.into(), Value::Array(list));
            }
        }
        Value::Object(m)
    }
}

#[derive(Default)]
struct ImageState {
    image: OmeImage,
    index: usize,
    pixels_seen: bool,
    /// The first Pixels is open: only its children are read.
    in_first_pixels: bool,
    instrument_ref: Option<String>,
    logical_channels: Vec<OmeChannel>,
}

#[derive(Default)]
struct Parser {
    /// Local names of the open elements, root first.
    stack: Vec<String>,
    root_seen: bool,
    root_closed: bool,
    doc: OmeDocument,
    instruments: Vec<Value>,
    instrument_ids: Vec<Option<String>>,
    instrument: Option<InstrumentBuilder>,
    image: Option<ImageState>,
    /// Per finished image: its InstrumentRef, resolved once all instruments are known.
    image_instrument_refs: Vec<Option<String>>,
    /// Stack depth of the element whose text is being collected.
    capture: Option<(Capture, usize)>,
    text_buf: String,
}

fn get_string(attrs: &Attrs, key: &str) -> Option<String> {
    get(attrs, key).map(str::to_string)
}

/// A finite number > 0, else `None`: OME writers use 0 (and sometimes garbage) for "unknown".
fn positive_f64(attrs: &Attrs, key: &str) -> Option<f64> {
    let raw = get(attrs, key)?;
    match raw.trim().parse::<f64>() {
        Ok(v) if v.is_finite() && v > 0.0 => Some(v),
        Ok(_) => None,
        Err(_) => {
            tracing::warn!("OME-XML {key} is not a number: {raw:?}; ignored");
            None
        }
    }
}

fn opt_usize(attrs: &Attrs, key: &str, ctx: &str) -> Result<Option<usize>, String> {
    match get(attrs, key) {
        None => Ok(None),
        Some(raw) => raw
            .trim()
            .parse::<usize>()
            .map(Some)
            .map_err(|_| format!("{ctx}: {key} is not a non-negative integer: '{raw}'")),
    }
}

fn parse_bool(raw: &str) -> Option<bool> {
    match raw.trim() {
        "true" | "1" | "True" | "TRUE" => Some(true),
        "false" | "0" | "False" | "FALSE" => Some(false),
        _ => None,
    }
}

/// OME `Color` is a signed int32, but some writers print the same bits unsigned.
fn parse_color(raw: &str) -> Option<i32> {
    let v: i64 = raw.trim().parse().ok()?;
    if (i64::from(i32::MIN)..=i64::from(u32::MAX)).contains(&v) {
        Some(v as u32 as i32)
    } else {
        None
    }
}

/// Attributes whose values are numbers in every schema year, so JSON consumers get numbers.
const NUMERIC_ATTRS: &[&str] = &[
    "LensNA",
    "NominalMagnification",
    "CalibratedMagnification",
    "WorkingDistance",
    "Wavelength",
    "Power",
    "RepetitionRate",
    "Gain",
    "Voltage",
    "Offset",
    "Zoom",
    "AmplificationGain",
    "FrequencyMultiplication",
    "RefractiveIndex",
    "CorrectionCollar",
];

fn attrs_json(attrs: &Attrs) -> Map<String, Value> {
    let mut m = Map::new();
    for (k, v) in attrs {
        let num = if NUMERIC_ATTRS.contains(&k.as_str()) {
            v.trim()
                .parse::<f64>()
                .ok()
                .and_then(serde_json::Number::from_f64)
        } else {
            None
        };
        let value = match num {
            Some(n) => Value::Number(n),
            None => Value::String(v.clone()),
        };
        m.insert(k.clone(), value);
    }
    m
}

fn channel_from(attrs: &Attrs, ctx: &str, old_schema: bool) -> Result<OmeChannel, String> {
    let (em, ex) = if old_schema {
        ("EmWave", "ExWave")
    } else {
        ("EmissionWavelength", "ExcitationWavelength")
    };
    let emission_wavelength = positive_f64(attrs, em);
    let excitation_wavelength = positive_f64(attrs, ex);
    let unit = |present: bool, key: &str| {
        present.then(|| get_string(attrs, key).unwrap_or_else(|| "nm".to_string()))
    };
    Ok(OmeChannel {
        id: get_string(attrs, "ID"),
        name: get_string(attrs, "Name"),
        samples_per_pixel: opt_usize(attrs, "SamplesPerPixel", ctx)?,
        color: get(attrs, "Color").and_then(parse_color),
        fluor: get_string(attrs, "Fluor"),
        emission_wavelength_unit: unit(emission_wavelength.is_some(), "EmissionWavelengthUnit"),
        emission_wavelength,
        excitation_wavelength_unit: unit(
            excitation_wavelength.is_some(),
            "ExcitationWavelengthUnit",
        ),
        excitation_wavelength,
    })
}

/// `Size*` must be an integer ≥ 1: a zero or missing size makes the plane layout undefined.
fn size(attrs: &Attrs, key: &str, ctx: &str) -> Result<usize, String> {
    let raw = get(attrs, key).ok_or_else(|| format!("{ctx}: Pixels has no {key}"))?;
    match raw.trim().parse::<usize>() {
        Ok(0) => Err(format!("{ctx}: {key} must be at least 1, got 0")),
        Ok(v) => Ok(v),
        Err(_) if raw.trim().parse::<i64>().is_ok() => {
            Err(format!("{ctx}: {key} must be at least 1, got {raw}"))
        }
        Err(_) => Err(format!("{ctx}: {key} is not a number: '{raw}'")),
    }
}

fn valid_dimension_order(order: &str) -> bool {
    order.len() == 5
        && order.starts_with("XY")
        && ['Z', 'C', 'T'].iter().all(|&c| order[2..].contains(c))
}

fn physical(attrs: &Attrs, axis: &str) -> (Option<f64>, Option<String>) {
    let size = positive_f64(attrs, &format!("PhysicalSize{axis}"));
    let unit = size.map(|_| {
        get_string(attrs, &format!("PhysicalSize{axis}Unit")).unwrap_or_else(|| "µm".to_string())
    });
    (size, unit)
}

impl Parser {
    fn path_is(&self, path: &[&str]) -> bool {
        self.stack.len() == path.len() && self.stack.iter().zip(path).all(|(a, b)| a == b)
    }

    /// True when the open elements are `OME/Image/Pixels` and this is the image's first Pixels.
    fn in_first_pixels(&self) -> bool {
        self.path_is(&["OME", "Image", "Pixels"])
            && self.image.as_ref().is_some_and(|s| s.in_first_pixels)
    }

    fn open(&mut self, e: &BytesStart, name: &str) -> Result<(), String> {
        if self.stack.is_empty() {
            if self.root_seen {
                return Err("more than one root element".to_string());
            }
            if name != "OME" {
                return Err(format!("root element is <{name}>, not <OME>"));
            }
            self.root_seen = true;
            let a = attributes(e)?;
            self.doc.creator = get_string(&a, "Creator");
            self.doc.uuid = get_string(&a, "UUID");
            return Ok(());
        }
        match self.stack.len() {
            1 => match name {
                "Instrument" => {
                    let a = attributes(e)?;
                    self.instrument = Some(InstrumentBuilder {
                        id: get_string(&a, "ID"),
                        ..Default::default()
                    });
                }
                "Image" => {
                    let a = attributes(e)?;
                    let index = self.doc.images.len();
                    self.image = Some(ImageState {
                        image: OmeImage {
                            id: get_string(&a, "ID"),
                            name: get_string(&a, "Name"),
                            ..Default::default()
                        },
                        index,
                        ..Default::default()
                    });
                }
                _ => {}
            },
            2 if self.path_is(&["OME", "Instrument"]) => self.open_instrument_child(e, name)?,
            2 if self.path_is(&["OME", "Image"]) => self.open_image_child(e, name)?,
            3 if self.in_first_pixels() => self.open_pixels_child(e, name)?,
            3 if self.path_is(&["OME", "Instrument", "LightSource"]) => {
                // Pre-2010 schemas wrap the kind: <LightSource ID=..><Laser .../></LightSource>.
                let a = attributes(e)?;
                if let Some(Value::Object(last)) = self
                    .instrument
                    .as_mut()
                    .and_then(|i| i.light_sources.last_mut())
                {
                    last.insert("Kind".into(), Value::String(name.to_string()));
                    last.extend(attrs_json(&a));
                }
            }
            4 if name == "UUID"
                && self.path_is(&["OME", "Image", "Pixels", "TiffData"])
                && self.image.as_ref().is_some_and(|s| s.in_first_pixels) =>
            {
                let a = attributes(e)?;
                if let Some(td) = self
                    .image
                    .as_mut()
                    .and_then(|s| s.image.tiff_data.last_mut())
                {
                    td.file_name = get_string(&a, "FileName");
                }
                self.start_capture(Capture::Uuid);
            }
            _ => {}
        }
        Ok(())
    }

    fn open_instrument_child(&mut self, e: &BytesStart, name: &str) -> Result<(), String> {
        let Some(inst) = self.instrument.as_mut() else {
            return Ok(());
        };
        match name {
            "Microscope" => inst.microscope = Some(attrs_json(&attributes(e)?)),
            "Objective" => inst
                .objectives
                .push(Value::Object(attrs_json(&attributes(e)?))),
            "Detector" => inst
                .detectors
                .push(Value::Object(attrs_json(&attributes(e)?))),
            "Laser" | "Arc" | "Filament" | "LightEmittingDiode" | "GenericExcitationSource" => {
                let mut m = Map::new();
                m.insert("Kind".into(), Value::String(name.to_string()));
                m.extend(attrs_json(&attributes(e)?));
                inst.light_sources.push(Value::Object(m));
            }
            "LightSource" => inst
                .light_sources
                .push(Value::Object(attrs_json(&attributes(e)?))),
            _ => {}
        }
        Ok(())
    }

    fn open_image_child(&mut self, e: &BytesStart, name: &str) -> Result<(), String> {
        match name {
            "AcquisitionDate" | "AcquiredDate" | "CreationDate" => {
                self.start_capture(Capture::Date);
                return Ok(());
            }
            _ => {}
        }
        let Some(state) = self.image.as_mut() else {
            return Ok(());
        };
        let ctx = format!("Image {}", state.index);
        match name {
            "InstrumentRef" => state.instrument_ref = get_string(&attributes(e)?, "ID"),
            "ObjectiveSettings" => {
                state.image.objective_settings = Some(Value::Object(attrs_json(&attributes(e)?)));
            }
            "LogicalChannel" => {
                let ch = channel_from(&attributes(e)?, &ctx, true)?;
                state.logical_channels.push(ch);
            }
            "Pixels" if !state.pixels_seen => {
                state.pixels_seen = true;
                state.in_first_pixels = true;
                let a = attributes(e)?;
                let img = &mut state.image;
                let order = get(&a, "DimensionOrder")
                    .ok_or_else(|| format!("{ctx}: Pixels has no DimensionOrder"))?;
                let order = order.trim();
                if !valid_dimension_order(order) {
                    return Err(format!(
                        "{ctx}: DimensionOrder '{order}' is not one of XY followed by Z, C, T"
                    ));
                }
                img.dimension_order = order.to_string();
                img.size_x = size(&a, "SizeX", &ctx)?;
                img.size_y = size(&a, "SizeY", &ctx)?;
                img.size_z = size(&a, "SizeZ", &ctx)?;
                img.size_c = size(&a, "SizeC", &ctx)?;
                img.size_t = size(&a, "SizeT", &ctx)?;
                img.pixel_type = get(&a, "Type")
                    .or_else(|| get(&a, "PixelType"))
                    .unwrap_or_default()
                    .trim()
                    .to_string();
                img.big_endian = get(&a, "BigEndian").and_then(parse_bool);
                img.interleaved = get(&a, "Interleaved").and_then(parse_bool);
                img.significant_bits =
                    get(&a, "SignificantBits").and_then(|s| s.trim().parse().ok());
                (img.physical_size_x, img.physical_size_x_unit) = physical(&a, "X");
                (img.physical_size_y, img.physical_size_y_unit) = physical(&a, "Y");
                (img.physical_size_z, img.physical_size_z_unit) = physical(&a, "Z");
                img.time_increment = positive_f64(&a, "TimeIncrement");
                img.time_increment_unit = img.time_increment.map(|_| {
                    get_string(&a, "TimeIncrementUnit").unwrap_or_else(|| "s".to_string())
                });
            }
            _ => {}
        }
        Ok(())
    }

    fn open_pixels_child(&mut self, e: &BytesStart, name: &str) -> Result<(), String> {
        let Some(state) = self.image.as_mut() else {
            return Ok(());
        };
        let ctx = format!("Image {}", state.index);
        match name {
            "Channel" => {
                let ch = channel_from(&attributes(e)?, &ctx, false)?;
                state.image.channels.push(ch);
            }
            "TiffData" => {
                let a = attributes(e)?;
                let ctx = format!("{ctx} TiffData {}", state.image.tiff_data.len());
                let plane_count = match opt_usize(&a, "PlaneCount", &ctx)? {
                    Some(n) => Some(n),
                    None => opt_usize(&a, "NumPlanes", &ctx)?,
                };
                state.image.tiff_data.push(TiffData {
                    ifd: opt_usize(&a, "IFD", &ctx)?,
                    first_z: opt_usize(&a, "FirstZ", &ctx)?,
                    first_c: opt_usize(&a, "FirstC", &ctx)?,
                    first_t: opt_usize(&a, "FirstT", &ctx)?,
                    plane_count,
                    uuid: None,
                    file_name: None,
                });
            }
            _ => {}
        }
        Ok(())
    }

    fn start_capture(&mut self, what: Capture) {
        // Depth the element will have once pushed.
        self.capture = Some((what, self.stack.len() + 1));
        self.text_buf.clear();
    }

    fn text(&mut self, s: &str) {
        if let Some((_, depth)) = self.capture
            && depth == self.stack.len()
        {
            self.text_buf.push_str(s);
        }
    }

    /// Called with the closing element still on the stack.
    fn close(&mut self) -> Result<(), String> {
        let depth = self.stack.len();
        if let Some((what, d)) = self.capture
            && d == depth
        {
            self.capture = None;
            let text = self.text_buf.trim().to_string();
            let text = (!text.is_empty()).then_some(text);
            match what {
                Capture::Date => {
                    if let Some(state) = self.image.as_mut() {
                        state.image.acquisition_date = text;
                    }
                }
                Capture::Uuid => {
                    if let Some(td) = self
                        .image
                        .as_mut()
                        .and_then(|s| s.image.tiff_data.last_mut())
                    {
                        td.uuid = text;
                    }
                }
            }
        }
        if self.path_is(&["OME", "Image", "Pixels"]) {
            if let Some(state) = self.image.as_mut() {
                state.in_first_pixels = false;
            }
        } else if self.path_is(&["OME", "Instrument"])
            && let Some(inst) = self.instrument.take()
        {
            self.instrument_ids.push(inst.id.clone());
            self.instruments.push(inst.into_json());
        } else if self.path_is(&["OME", "Image"])
            && let Some(state) = self.image.take()
        {
            if !state.pixels_seen {
                return Err(format!("no Pixels element in Image {}", state.index));
            }
            let mut image = state.image;
            if image.channels.is_empty() {
                image.channels = state.logical_channels;
            }
            self.doc.images.push(image);
            self.image_instrument_refs.push(state.instrument_ref);
        }
        self.stack.pop();
        if self.stack.is_empty() {
            self.root_closed = true;
        }
        Ok(())
    }

    fn finish(mut self) -> Result<OmeDocument, String> {
        for (image, iref) in self.doc.images.iter_mut().zip(&self.image_instrument_refs) {
            let by_ref = iref.as_ref().and_then(|r| {
                self.instrument_ids
                    .iter()
                    .position(|id| id.as_deref() == Some(r.as_str()))
            });
            image.instrument = by_ref
                .or((!self.instruments.is_empty()).then_some(0))
                .and_then(|i| self.instruments.get(i).cloned());
        }
        Ok(self.doc)
    }
}
