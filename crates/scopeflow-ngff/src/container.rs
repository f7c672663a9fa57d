//! Whole files: every series of a file, or one. A file with one series (or one series asked
//! for) becomes a plain NGFF image at OUTPUT, as [`convert`] writes it; a file with several
//! becomes a bioformats2raw-layout container (NGFF's transitional layout for several images in
//! one tree): `bioformats2raw.layout: 3` on the root group, each series a complete NGFF image
//! under `0/`, `1/`, …, and an `OME/` group listing them (`series`) beside the original
//! OME-XML. The container is staged and published as one folder, like a single image.

use std::path::{Path, PathBuf};

use scopeflow_core::{ChannelQc, DType, ImageMeta};
use scopeflow_formats::{FormatError, ImageSource};
use serde_json::{Value, json};

use crate::fsstore::{FileDigests, Written};
use crate::hash::Hasher;
use crate::metadata::{self, Provenance};
use crate::options::{ConvertOptions, NgffVersion};
use crate::pass::{self, file_name, write_image_attrs, write_json, write_pixels};
use crate::publish::Staging;
use crate::thumbnail::Thumbnail;
use crate::{ConvertError, convert, measure_qc};

/// Which series of a file to convert.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SeriesChoice {
    /// Every series: a container when there are several.
    All,
    /// Only series `n` (0-based), as a plain image.
    One(usize),
}

/// QC of one series.
#[derive(Clone, Debug)]
pub struct SeriesQc {
    pub index: usize,
    pub name: Option<String>,
    pub channels: Vec<ChannelQc>,
}

/// What one converted series became.
#[derive(Clone, Debug)]
pub struct SeriesReport {
    pub qc: SeriesQc,
    /// Its image group inside OUTPUT: `""` for a plain image, `"0"`, `"1"`, … in a container.
    pub path: String,
    /// Array shape of each level, NGFF axis order.
    pub level_shapes: Vec<Vec<u64>>,
    pub axes: String,
    pub thumbnail: Thumbnail,
}

/// What [`convert_file`] produced.
#[derive(Clone, Debug)]
pub struct FileReport {
    pub output: PathBuf,
    pub sha256: String,
    pub source_size: u64,
    /// True when OUTPUT is a bioformats2raw-layout container.
    pub container: bool,
    pub series: Vec<SeriesReport>,
    /// Every file written through the zarr stores, when [`ConvertOptions::record_digests`].
    pub written: FileDigests,
}

impl FileReport {
    /// QC of every converted series, as [`qc_document`] lays it out.
    pub fn qc_document(&self) -> Value {
        let qc: Vec<SeriesQc> = self.series.iter().map(|s| s.qc.clone()).collect();
        qc_document(&qc)
    }

    /// The catalog's picture of the file: its first converted series'.
    pub fn thumbnail(&self) -> Option<&Thumbnail> {
        self.series.first().map(|s| &s.thumbnail)
    }
}

/// The QC document of a file: `{"channels": [...]}` of the first series, as for a
/// single-series file, plus `series: [{"index", "name", "channels"}]` when there are several.
pub fn qc_document(series: &[SeriesQc]) -> Value {
    let mut doc =
        scopeflow_core::qc_document(series.first().map_or(&[][..], |s| s.channels.as_slice()));
    if series.len() > 1
        && let Some(map) = doc.as_object_mut()
    {
        let list: Vec<Value> = series
            .iter()
            .map(|s| json!({"index": s.index, "name": s.name, "channels": s.channels}))
            .collect();
        map.insert("series".into(), list.into());
    }
    doc
}

/// Series indices `choice` selects in a file described by `meta` (any of its series' meta).
fn chosen(meta: &ImageMeta, choice: SeriesChoice) -> Vec<usize> {
    match choice {
        SeriesChoice::One(n) => vec![n],
        SeriesChoice::All => (0..meta.series.len().max(1)).collect(),
    }
}

/// Bytes of pixels `choice` reads from the file `meta` describes (for a progress bar).
pub fn planned_bytes(meta: &ImageMeta, choice: SeriesChoice) -> u64 {
    if meta.series.len() <= 1 {
        return meta.raw_bytes();
    }
    chosen(meta, choice)
        .iter()
        .filter_map(|&i| meta.series.get(i))
        .map(|s| {
            let size = DType::from_name(&s.dtype).map_or(1, DType::size) as u64;
            s.shape.iter().map(|&n| n as u64).product::<u64>() * size
        })
        .sum()
}

fn series_name(meta: &ImageMeta, index: usize) -> Option<String> {
    meta.series.get(index).and_then(|s| s.name.clone())
}

/// QC of every series of `path`, one read of each.
///
/// # Errors
/// The file or one of its series cannot be read.
pub fn measure_qc_file(
    path: &Path,
    progress: &(dyn Fn(u64) + Sync),
) -> Result<Vec<SeriesQc>, ConvertError> {
    let first = scopeflow_formats::open(path)?;
    let indices = chosen(first.meta(), SeriesChoice::All);
    let mut out = Vec::with_capacity(indices.len());
    let mut first = Some(first);
    for i in indices {
        let src = match first.take() {
            Some(s) => s,
            None => scopeflow_formats::open_series(path, i)?,
        };
        out.push(SeriesQc {
            index: i,
            name: series_name(src.meta(), i),
            channels: measure_qc(src.as_ref(), progress)?,
        });
    }
    Ok(out)
}

/// Converts `path` to OME-Zarr at `output`: every series (a container when there are several),
/// or only the one asked for (a plain image). The sources are opened through
/// [`scopeflow_formats::open_series`], one series at a time.
///
/// # Errors
/// As [`convert`]; a series past the end is a [`FormatError::Usage`] naming the file and the
/// count. Nothing is left at `output` on failure.
pub fn convert_file(
    path: &Path,
    output: &Path,
    opts: &ConvertOptions,
    choice: SeriesChoice,
    progress: &(dyn Fn(u64) + Sync),
) -> Result<FileReport, ConvertError> {
    opts.validate().map_err(ConvertError::Options)?;
    let first = scopeflow_formats::open_series(
        path,
        match choice {
            SeriesChoice::One(n) => n,
            SeriesChoice::All => 0,
        },
    )?;
    let indices = chosen(first.meta(), choice);
    if indices.len() == 1 {
        let index = indices[0];
        let r = convert(first.as_ref(), output, opts, progress)?;
        return Ok(FileReport {
            output: r.output,
            sha256: r.sha256,
            source_size: r.source_size,
            container: false,
            series: vec![SeriesReport {
                qc: SeriesQc {
                    index,
                    name: series_name(first.meta(), index),
                    channels: r.qc,
                },
                path: String::new(),
                level_shapes: r.level_shapes,
                axes: r.axes,
                thumbnail: r.thumbnail,
            }],
            written: r.written,
        });
    }
    write_container(path, first, &indices, output, opts, progress)
}

fn write_container(
    path: &Path,
    first: Box<dyn ImageSource>,
    indices: &[usize],
    output: &Path,
    opts: &ConvertOptions,
    progress: &(dyn Fn(u64) + Sync),
) -> Result<FileReport, ConvertError> {
    let t0 = std::time::Instant::now();
    let staging = Staging::new(output, opts.overwrite)?;
    let hasher = Hasher::start(path);
    let name = file_name(path);
    let ome_xml = first.meta().ome_xml.clone();
    let format = first.meta().format.clone();
    let mut first = Some(first);
    let digests = opts.record_digests.then(|| Written::new(&staging.dir));
    // Pixels first, attributes once the file's hash is known (provenance carries it).
    let mut written = Vec::with_capacity(indices.len());
    for &i in indices {
        let src = match first.take() {
            Some(s) => s,
            None => scopeflow_formats::open_series(path, i)?,
        };
        let dir = staging.dir.join(i.to_string());
        std::fs::create_dir(&dir).map_err(|e| ConvertError::Write {
            path: dir.clone(),
            error: e,
        })?;
        let pixels = write_pixels(src.as_ref(), &dir, opts, digests.as_ref(), progress)?;
        tracing::info!(
            series = i,
            seconds = t0.elapsed().as_secs_f64(),
            "series converted"
        );
        written.push((i, dir, src.meta().clone(), pixels));
    }
    let (sha256, source_size) = hasher.finish().map_err(|e| FormatError::io(path, e))?;
    let mut series = Vec::with_capacity(written.len());
    for (i, dir, meta, pixels) in written {
        let qc = SeriesQc {
            index: i,
            name: series_name(&meta, i),
            channels: pixels.qc.clone(),
        };
        let mut provenance = metadata::provenance(&Provenance {
            source_name: &name,
            source_size,
            sha256: &sha256,
            format: &meta.format,
            parameters: opts.to_json(),
            qc: scopeflow_core::qc_document(&qc.channels),
        });
        if let Some(p) = provenance.as_object_mut() {
            p.insert("series".into(), json!({"index": i, "name": qc.name}));
        }
        let image_name = qc.name.clone().unwrap_or_else(|| format!("{name} #{i}"));
        let omero = write_image_attrs(&dir, &meta, &pixels, &image_name, opts, provenance)?;
        series.push(SeriesReport {
            qc,
            path: i.to_string(),
            level_shapes: pixels.plan.level_shapes(),
            axes: pixels.plan.axes_name(),
            thumbnail: pixels.thumbnail.finish(&omero),
        });
    }
    let qc: Vec<SeriesQc> = series.iter().map(|s| s.qc.clone()).collect();
    let mut root = metadata::provenance(&Provenance {
        source_name: &name,
        source_size,
        sha256: &sha256,
        format: &format,
        parameters: opts.to_json(),
        qc: qc_document(&qc),
    });
    if let Some(p) = root.as_object_mut() {
        p.insert(
            "series".into(),
            series
                .iter()
                .map(|s| json!({"index": s.qc.index, "name": s.qc.name, "path": s.path}))
                .collect::<Vec<_>>()
                .into(),
        );
    }
    let paths: Vec<String> = series.iter().map(|s| s.path.clone()).collect();
    write_layout_groups(&staging.dir, opts.ngff, &paths, root, ome_xml.as_deref())?;
    staging.publish()?;
    tracing::info!(seconds = t0.elapsed().as_secs_f64(), output = %output.display(), "published");
    Ok(FileReport {
        output: output.to_path_buf(),
        sha256,
        source_size,
        container: true,
        series,
        written: digests.map(|w| w.take()).unwrap_or_default(),
    })
}

/// The root group (`bioformats2raw.layout: 3`) and the `OME/` group listing the series.
fn write_layout_groups(
    dir: &Path,
    version: NgffVersion,
    paths: &[String],
    scopeflow: Value,
    ome_xml: Option<&str>,
) -> Result<(), ConvertError> {
    if let Some(xml) = ome_xml {
        pass::write_ome_xml(dir, xml)?;
    } else {
        let ome = dir.join("OME");
        std::fs::create_dir_all(&ome).map_err(|e| ConvertError::Write {
            path: ome.clone(),
            error: e,
        })?;
    }
    let ome = dir.join("OME");
    match version {
        NgffVersion::V05 => {
            write_json(
                &dir.join("zarr.json"),
                &json!({"zarr_format": 3, "node_type": "group", "attributes": {
                    "ome": {"version": "0.5", "bioformats2raw.layout": 3},
                    "scopeflow": scopeflow,
                }}),
            )?;
            write_json(
                &ome.join("zarr.json"),
                &json!({"zarr_format": 3, "node_type": "group", "attributes": {
                    "ome": {"version": "0.5", "series": paths},
                }}),
            )
        }
        NgffVersion::V04 => {
            write_json(&dir.join(".zgroup"), &json!({"zarr_format": 2}))?;
            write_json(
                &dir.join(".zattrs"),
                &json!({"bioformats2raw.layout": 3, "scopeflow": scopeflow}),
            )?;
            write_json(&ome.join(".zgroup"), &json!({"zarr_format": 2}))?;
            write_json(&ome.join(".zattrs"), &json!({"series": paths}))
        }
    }
}
