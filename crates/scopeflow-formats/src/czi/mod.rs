//! Zeiss CZI (ZISRAW): scenes as series, mosaic tiles composed into the scene's plane,
//! uncompressed and zstd (zstd0, zstd1 with its hi/lo byte packing) subblocks.
//!
//! Written from the libCZI documentation of the container; checked against pylibCZIrw (libCZI
//! itself) in `tests/czi.rs`. JPEG, JPEG-XR and LZW subblocks are refused with the
//! compression's name: they need codecs this build does not carry. Pyramid subblocks (stored
//! smaller than their logical size) are skipped: the converter builds its own pyramid from
//! full resolution.

mod gaps;
mod layout;
mod pixels;
mod segments;
mod xml;

use std::fs::File;
use std::path::{Path, PathBuf};

use scopeflow_core::{Axis, ImageMeta, PhysicalSizes, SeriesSummary};
use serde_json::{Map, Value};

use crate::{FormatError, ImageSource, PlaneReader};
use layout::{Scene, compression_name, pixel_type_name};

pub(crate) struct CziSource {
    path: PathBuf,
    file: File,
    file_len: u64,
    meta: ImageMeta,
    scene: Scene,
    natural_rows: usize,
}

pub(crate) fn open(path: &Path, series: usize) -> Result<Box<dyn ImageSource>, FormatError> {
    Ok(Box::new(CziSource::open(path, series)?))
}

impl CziSource {
    fn open(path: &Path, series: usize) -> Result<Self, FormatError> {
        let file = File::open(path).map_err(|e| FormatError::io(path, e))?;
        let file_len = file.metadata().map_err(|e| FormatError::io(path, e))?.len();
        let header = segments::file_header(&file, path, file_len)?;
        if header.directory_position == 0 {
            return Err(FormatError::corrupt(
                path,
                "the file header points to no subblock directory (writers add it last: the file is unfinished)",
            ));
        }
        let entries = segments::directory(&file, path, file_len, header.directory_position)?;
        let mut scenes = layout::scenes(path, &entries)?;
        let doc = if header.metadata_position == 0 {
            Ok(xml::CziXml::default())
        } else {
            segments::metadata_xml(&file, path, file_len, header.metadata_position)
                .and_then(|text| xml::parse(&text).map_err(|e| FormatError::metadata(path, e)))
        };
        // The XML only adds names and sizes: an image whose metadata is damaged still converts.
        let (doc, xml_error) = match doc {
            Ok(doc) => (doc, None),
            Err(e) => {
                tracing::warn!("{e}");
                (xml::CziXml::default(), Some(e.to_string()))
            }
        };
        let summaries = scenes
            .iter()
            .enumerate()
            .map(|(i, s)| summary(i, s, &doc))
            .collect::<Vec<_>>();
        let count = scenes.len();
        if series >= count {
            return Err(crate::no_such_series(path, series, count));
        }
        let scene = scenes.swap_remove(series);
        if let Some(t) = scene
            .tiles
            .iter()
            .find(|t| !matches!(t.compression, 0 | 5 | 6))
        {
            return Err(FormatError::unsupported(
                path,
                format!(
                    "{} compression (subblock at offset {}) is not supported: only uncompressed, zstd0 and zstd1 subblocks are read",
                    compression_name(t.compression),
                    t.file_position
                ),
            ));
        }
        let mut meta = build_meta(&scene, &doc, summaries, count);
        if let Some(e) = xml_error {
            meta.metadata.insert("metadata_error".into(), e.into());
        }
        let tile_rows = scene.tiles.first().map_or(1, |t| t.height);
        let all_raw = scene.tiles.iter().all(|t| t.compression == 0);
        let natural_rows = if all_raw {
            tile_rows.min(256)
        } else {
            tile_rows
        };
        Ok(CziSource {
            path: path.to_path_buf(),
            file,
            file_len,
            natural_rows: natural_rows.clamp(1, scene.height.max(1)),
            meta,
            scene,
        })
    }
}

/// The scene's axes (T C Z Y X, then S for colour), length-1 T/C/Z dropped.
fn axes_of(scene: &Scene) -> (Vec<Axis>, Vec<usize>) {
    let mut axes = Vec::new();
    let mut shape = Vec::new();
    for (axis, len) in [
        (Axis::T, scene.t.len),
        (Axis::C, scene.c.len),
        (Axis::Z, scene.z.len),
    ] {
        if len > 1 {
            axes.push(axis);
            shape.push(len);
        }
    }
    axes.extend([Axis::Y, Axis::X]);
    shape.extend([scene.height, scene.width]);
    if scene.pixel_type.samples > 1 {
        axes.push(Axis::S);
        shape.push(scene.pixel_type.samples);
    }
    (axes, shape)
}

fn summary(i: usize, scene: &Scene, doc: &xml::CziXml) -> SeriesSummary {
    let (axes, shape) = axes_of(scene);
    let name = usize::try_from(scene.s)
        .ok()
        .and_then(|s| doc.scene_names.get(s).cloned().flatten())
        .unwrap_or_else(|| format!("scene {}", if scene.s >= 0 { scene.s as usize } else { i }));
    SeriesSummary {
        index: i,
        name: Some(name),
        axes: scopeflow_core::axes_string(&axes),
        shape,
        dtype: scene.pixel_type.dtype.name().to_string(),
    }
}

/// Metres as written (`1.0833333333333333E-06`) to micrometres, by moving the decimal
/// exponent rather than multiplying, so `1e-07` becomes exactly `0.1`.
fn metres_to_um(text: &str) -> Option<f64> {
    let t = text.trim();
    let (mantissa, exp) = match t.find(['e', 'E']) {
        Some(i) => (&t[..i], t[i + 1..].parse::<i32>().ok()?),
        None => (t, 0),
    };
    let v = format!("{mantissa}e{}", exp.checked_add(6)?)
        .parse::<f64>()
        .ok()?;
    (v.is_finite() && v > 0.0).then_some(v)
}

fn channel_names(scene: &Scene, doc: &xml::CziXml) -> Option<Vec<String>> {
    if scene.pixel_type.samples > 1 && scene.c.len == 1 {
        return None;
    }
    let names: Vec<Option<String>> = (0..scene.c.len)
        .map(|i| {
            usize::try_from(scene.c.first + i as i64)
                .ok()
                .and_then(|c| doc.channel_names.get(c).cloned().flatten())
        })
        .collect();
    if names.iter().all(Option::is_none) {
        return None;
    }
    Some(
        names
            .into_iter()
            .enumerate()
            .map(|(i, n)| n.unwrap_or_else(|| format!("Channel {i}")))
            .collect(),
    )
}

fn build_meta(
    scene: &Scene,
    doc: &xml::CziXml,
    series: Vec<SeriesSummary>,
    scenes: usize,
) -> ImageMeta {
    let (axes, shape) = axes_of(scene);
    let [x, y, z] = doc
        .scaling
        .clone()
        .map(|v| v.as_deref().and_then(metres_to_um));
    let physical = PhysicalSizes { x, y, z };
    let acquired_at = doc
        .acquired
        .as_deref()
        .filter(|d| chrono::DateTime::parse_from_rfc3339(d).is_ok())
        .map(str::to_string);
    let mut instrument = Map::new();
    if let Some(m) = &doc.microscope {
        instrument.insert("microscope".into(), Value::Object(m.clone()));
    }
    if !doc.objectives.is_empty() {
        instrument.insert("objectives".into(), Value::Array(doc.objectives.clone()));
    }
    let mut metadata = doc.summary.clone();
    if let Some(raw) = doc.acquired.as_deref().filter(|_| acquired_at.is_none()) {
        // Kept as written when it is not RFC 3339 (no time zone, another layout).
        metadata.insert("AcquisitionDateAndTime".into(), raw.into());
    }
    metadata.insert("scenes".into(), scenes.into());
    metadata.insert("scene_index".into(), scene.s.into());
    metadata.insert(
        "pixel_type".into(),
        pixel_type_name(scene.pixel_type.code).into(),
    );
    metadata.insert(
        "stage_origin_px".into(),
        vec![scene.origin.0, scene.origin.1].into(),
    );
    metadata.insert("subblocks".into(), scene.tiles.len().into());
    let mut compressions: Vec<String> = scene
        .tiles
        .iter()
        .map(|t| compression_name(t.compression))
        .collect();
    compressions.sort();
    compressions.dedup();
    metadata.insert("compression".into(), compressions.into());
    let mut tiles_m: Vec<i64> = scene.tiles.iter().map(|t| t.m).collect();
    tiles_m.sort_unstable();
    tiles_m.dedup();
    if tiles_m.len() > 1 {
        metadata.insert("mosaic_tiles".into(), tiles_m.len().into());
        metadata.insert("tile_overlap".into(), "the higher M index wins".into());
    }
    if scene.pyramid_subblocks > 0 {
        metadata.insert(
            "pyramid_subblocks_skipped".into(),
            scene.pyramid_subblocks.into(),
        );
    }
    if !scene.ignored_dims.is_empty() {
        let dims: String = scene.ignored_dims.iter().collect();
        metadata.insert("dimensions_read_at_first_index_only".into(), dims.into());
    }
    ImageMeta {
        format: "czi".into(),
        axes,
        shape,
        dtype: scene.pixel_type.dtype,
        physical_unit: (!physical.is_empty()).then(|| "micrometer".to_string()),
        physical_sizes: (!physical.is_empty()).then_some(physical),
        time_increment: None,
        time_unit: None,
        channel_names: channel_names(scene, doc),
        acquired_at,
        instrument: (!instrument.is_empty()).then_some(Value::Object(instrument)),
        metadata,
        ome_xml: None,
        series,
    }
}

impl ImageSource for CziSource {
    fn meta(&self) -> &ImageMeta {
        &self.meta
    }

    fn path(&self) -> &Path {
        &self.path
    }

    fn natural_rows(&self) -> usize {
        self.natural_rows
    }

    fn plane_reader(&self, plane: &[usize]) -> Result<Box<dyn PlaneReader + '_>, FormatError> {
        let axes = self.meta.plane_axes();
        let bad = || FormatError::Usage {
            path: self.path.clone(),
            what: format!(
                "no plane {plane:?}: the plane axes are {axes:?} of {:?}",
                self.meta.shape
            ),
        };
        if plane.len() != axes.len() {
            return Err(bad());
        }
        let s = &self.scene;
        let (mut t, mut c, mut z) = (s.t.first, s.c.first, s.z.first);
        for (&axis, &i) in axes.iter().zip(plane) {
            if i >= self.meta.axis_len(axis).unwrap_or(1) {
                return Err(bad());
            }
            match axis {
                Axis::T => t += i as i64,
                Axis::C => c += i as i64,
                _ => z += i as i64,
            }
        }
        let tiles = (0..s.tiles.len())
            .filter(|&k| {
                let tile = &s.tiles[k];
                tile.t == t && tile.c == c && tile.z == z
            })
            .collect();
        Ok(Box::new(pixels::CziPlane::new(self, tiles)))
    }
}

#[cfg(test)]
mod tests {
    use super::metres_to_um;

    #[test]
    fn metres_become_exact_micrometres() {
        assert_eq!(metres_to_um("1e-07"), Some(0.1));
        assert_eq!(metres_to_um("6.45e-07"), Some(0.645));
        assert_eq!(
            metres_to_um("1.0833333333333333E-06"),
            Some(1.0833333333333333)
        );
        assert_eq!(metres_to_um("0.0000005"), Some(0.5));
        assert_eq!(metres_to_um("0"), None);
        assert_eq!(metres_to_um("abc"), None);
        assert_eq!(metres_to_um("1e2147483647"), None);
    }
}
