//! The single streaming pass: read a band, account it in QC, store its blocks, average it
//! into the next level, which stores and averages in turn when its own band fills.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rayon::prelude::*;
use scopeflow_core::{Axis, ChannelQc, ImageMeta};
use scopeflow_formats::{FormatError, ImageSource, plane_count, plane_index, reserved, zeroed};
use scopeflow_qc::{ChannelAccumulator, PlaneFocus};
use serde_json::Map;

use crate::fsstore::{FileDigests, Written};
use crate::hash::Hasher;
use crate::metadata::{self, Provenance};
use crate::options::ConvertOptions;
use crate::plan::Plan;
use crate::publish::Staging;
use crate::store::LevelStore;
use crate::thumbnail::{Capture, PlaneGrid, Thumbnail};
use crate::{ConvertError, pyramid};

/// What a conversion produced, for the caller to report or journal.
#[derive(Clone, Debug)]
pub struct ConvertReport {
    pub output: PathBuf,
    pub qc: Vec<ChannelQc>,
    pub sha256: String,
    pub source_size: u64,
    /// Array shape of each level, NGFF axis order.
    pub level_shapes: Vec<Vec<u64>>,
    pub axes: String,
    /// The lowest level composited for the catalog (see [`crate::thumbnail`]).
    pub thumbnail: Thumbnail,
    /// Every file written through the zarr store, when [`ConvertOptions::record_digests`].
    pub written: FileDigests,
}

/// Where bands go when converting (absent when only measuring QC).
struct Sink<'a> {
    plan: &'a Plan,
    levels: &'a LevelStore,
    thumbnail: &'a Capture,
}

/// Rows of the levels above 0 waiting for a full band, for one output plane.
struct LevelBuf {
    start: usize,
    rows: usize,
    data: Vec<u8>,
}

struct PlaneSink<'s, 'a> {
    sink: &'s Sink<'a>,
    /// The source, named when a buffer its dimensions ask for cannot be allocated.
    path: &'s Path,
    dtype: scopeflow_core::DType,
    lead: Vec<u64>,
    bufs: Vec<LevelBuf>,
    parallel_blocks: bool,
    /// This plane's share of the thumbnail (none past the first time point).
    grid: Option<PlaneGrid>,
}

impl PlaneSink<'_, '_> {
    /// Stores band `rows` × width of level `k` starting at row `r0`, then feeds level k+1.
    fn emit(&mut self, k: usize, r0: usize, data: &[u8], rows: usize) -> Result<(), ConvertError> {
        let level = &self.sink.plan.levels[k];
        let size = self.dtype.size();
        let path = self.path;
        let (by, bx) = level.block;
        let w = level.width;
        let block_row = (r0 / by) as u64;
        if let Some(grid) = &mut self.grid {
            self.sink.thumbnail.add(grid, k, r0, data, w);
        }
        let store_one = |j: usize| -> Result<(), ConvertError> {
            let c0 = j * bx;
            let c1 = (c0 + bx).min(w);
            let row = |r: usize| &data[(r * w + c0) * size..(r * w + c1) * size];
            // Only an edge block has room the band does not fill (zero, the fill value).
            let block = if rows == by && c1 - c0 == bx {
                let mut block = reserved(path, &[by, bx, size], "a stored block")?;
                (0..rows).for_each(|r| block.extend_from_slice(row(r)));
                block
            } else {
                let mut block = zeroed(path, &[by, bx, size], "a stored block")?;
                for r in 0..rows {
                    let src = row(r);
                    block[r * bx * size..r * bx * size + src.len()].copy_from_slice(src);
                }
                block
            };
            let mut idx = self.lead.clone();
            idx.extend([block_row, j as u64]);
            self.sink.levels.store_block(k, &idx, &block)
        };
        let across = level.blocks_across();
        if self.parallel_blocks && across > 1 {
            (0..across).into_par_iter().try_for_each(store_one)?;
        } else {
            (0..across).try_for_each(store_one)?;
        }
        if k + 1 < self.sink.plan.levels.len() {
            let half = pyramid::downsample(self.dtype, data, rows, w).map_err(|_| {
                FormatError::unsupported(
                    path,
                    format!("a pyramid band of {rows} rows x {w} pixels needs more memory than this machine can give"),
                )
            })?;
            self.append(k + 1, &half, rows.div_ceil(2))?;
        }
        Ok(())
    }

    fn append(&mut self, k: usize, data: &[u8], rows: usize) -> Result<(), ConvertError> {
        let level = &self.sink.plan.levels[k];
        let (band, height) = (level.block.0, level.height);
        let row = level.width * self.dtype.size();
        let mut done = 0;
        while done < rows {
            let buf = &mut self.bufs[k - 1];
            let take = (rows - done).min(band - buf.rows);
            buf.data[buf.rows * row..(buf.rows + take) * row]
                .copy_from_slice(&data[done * row..(done + take) * row]);
            buf.rows += take;
            done += take;
            if buf.rows == band || buf.start + buf.rows == height {
                let (start, n) = (buf.start, buf.rows);
                let full = std::mem::take(&mut buf.data);
                self.emit(k, start, &full[..n * row], n)?;
                let buf = &mut self.bufs[k - 1];
                buf.data = full;
                buf.start += n;
                buf.rows = 0;
            }
        }
        Ok(())
    }
}

/// Index of the channel a source plane belongs to (its C index, or 0).
fn channel_of(meta: &ImageMeta, plane: &[usize]) -> usize {
    meta.plane_axes()
        .iter()
        .position(|&a| a == Axis::C)
        .map_or(0, |i| plane[i])
}

fn deinterleave(src: &[u8], samples: usize, size: usize, s: usize, out: &mut Vec<u8>) {
    out.clear();
    for px in src.chunks_exact(samples * size) {
        out.extend_from_slice(&px[s * size..(s + 1) * size]);
    }
}

fn run_pass(
    src: &dyn ImageSource,
    sink: Option<&Sink<'_>>,
    band: usize,
    progress: &(dyn Fn(u64) + Sync),
) -> Result<Vec<ChannelQc>, ConvertError> {
    let meta = src.meta();
    let (h, w, samples, size) = (
        meta.height(),
        meta.width(),
        meta.samples(),
        meta.dtype.size(),
    );
    let row = w.checked_mul(samples * size).ok_or_else(|| {
        FormatError::unsupported(src.path(), format!("rows of {w} pixels are too wide"))
    })?;
    crate::budget::check(src, sink.map(|s| s.plan), band, row)?;
    let n = plane_count(meta);
    let parallel_planes = n >= rayon::current_num_threads();
    // One set of accumulators per rayon split, not per plane: a float channel that falls back
    // to the bounded grid holds 24 MiB, which must not be multiplied by the plane count.
    let fresh = || -> Vec<ChannelAccumulator> {
        (0..meta.channel_count())
            .map(|_| ChannelAccumulator::new(meta.dtype))
            .collect()
    };
    let one_plane = |mut accs: Vec<ChannelAccumulator>,
                     p: usize|
     -> Result<Vec<ChannelAccumulator>, ConvertError> {
        let plane = plane_index(meta, p);
        let mut reader = src.plane_reader(&plane)?;
        let first = if samples > 1 {
            0
        } else {
            channel_of(meta, &plane)
        };
        let local = &mut accs[first..first + samples];
        let path = src.path();
        let mut sinks: Vec<PlaneSink<'_, '_>> = Vec::new();
        if let Some(s) = sink {
            for si in 0..samples {
                let bufs = s.plan.levels[1..]
                    .iter()
                    .map(|l| {
                        Ok(LevelBuf {
                            start: 0,
                            rows: 0,
                            data: zeroed(path, &[l.block.0, l.width, size], "a pyramid band")?,
                        })
                    })
                    .collect::<Result<_, FormatError>>()?;
                let lead = s.plan.lead_index(&plane, si);
                sinks.push(PlaneSink {
                    sink: s,
                    path,
                    dtype: meta.dtype,
                    grid: s.thumbnail.plane(&lead),
                    lead,
                    bufs,
                    parallel_blocks: !parallel_planes,
                });
            }
        }
        let mut focus: Vec<PlaneFocus> = (0..samples)
            .map(|s| PlaneFocus::new(meta.dtype, w, s, samples))
            .collect();
        let mut raw = zeroed(path, &[band.min(h), row], "a band of rows")?;
        // Filled by `deinterleave` (clear + extend), so reserving it here is its only growth.
        let mut split = if samples > 1 {
            zeroed(path, &[band.min(h), w, size], "a band of one sample")?
        } else {
            Vec::new()
        };
        for y0 in (0..h).step_by(band) {
            let y1 = (y0 + band).min(h);
            let buf = &mut raw[..(y1 - y0) * row];
            reader.read_rows(y0, y1, buf)?;
            if samples == 1 {
                local[0].add(buf);
            } else {
                for (s, acc) in local.iter_mut().enumerate() {
                    acc.add_interleaved(buf, s, samples);
                }
            }
            for (acc, plane) in local.iter_mut().zip(&mut focus) {
                acc.add_focus_rows(plane, buf);
            }
            for (s, ps) in sinks.iter_mut().enumerate() {
                if samples == 1 {
                    ps.emit(0, y0, buf, y1 - y0)?;
                } else {
                    deinterleave(buf, samples, size, s, &mut split);
                    ps.emit(0, y0, &split, y1 - y0)?;
                }
            }
            progress(buf.len() as u64);
        }
        for ps in sinks {
            if let Some(grid) = ps.grid {
                ps.sink.thumbnail.merge(grid);
            }
        }
        Ok(accs)
    };
    let merge = |mut a: Vec<ChannelAccumulator>, b: Vec<ChannelAccumulator>| {
        for (x, y) in a.iter_mut().zip(&b) {
            x.merge(y);
        }
        Ok(a)
    };
    let totals = if parallel_planes {
        (0..n)
            .into_par_iter()
            .try_fold(fresh, one_plane)
            .try_reduce(fresh, merge)?
    } else {
        (0..n).try_fold(fresh(), one_plane)?
    };
    let names = meta.channel_names.clone().unwrap_or_default();
    Ok(totals
        .iter()
        .enumerate()
        .map(|(i, acc)| acc.finish(i, names.get(i).cloned()))
        .collect())
}

/// QC of every channel in one read of the file.
///
/// # Errors
/// The source cannot be read.
pub fn measure_qc(
    src: &dyn ImageSource,
    progress: &(dyn Fn(u64) + Sync),
) -> Result<Vec<ChannelQc>, ConvertError> {
    let band = src.natural_rows().max(256);
    run_pass(src, None, band, progress)
}

/// Level 0 and the pyramid of `src`, written into the (existing) image group folder `dir`.
pub(crate) struct Pixels {
    pub plan: Plan,
    pub qc: Vec<ChannelQc>,
    pub thumbnail: Capture,
}

/// `written`: where the files' digests go, when the caller asked for them.
pub(crate) fn write_pixels(
    src: &dyn ImageSource,
    dir: &Path,
    opts: &ConvertOptions,
    written: Option<&Arc<Written>>,
    progress: &(dyn Fn(u64) + Sync),
) -> Result<Pixels, ConvertError> {
    let meta = src.meta();
    let plan = Plan::new(meta, opts).map_err(|what| FormatError::unsupported(src.path(), what))?;
    let levels = LevelStore::create(dir, &plan, meta.dtype, opts, written.cloned())?;
    let thumbnail = Capture::new(&plan, meta.dtype);
    let sink = Sink {
        plan: &plan,
        levels: &levels,
        thumbnail: &thumbnail,
    };
    let qc = run_pass(src, Some(&sink), plan.levels[0].block.0, progress)?;
    Ok(Pixels {
        plan,
        qc,
        thumbnail,
    })
}

pub(crate) fn write_json(path: &Path, value: &serde_json::Value) -> Result<(), ConvertError> {
    let text = serde_json::to_vec_pretty(value).map_err(|e| ConvertError::Zarr {
        path: path.to_path_buf(),
        what: e.to_string(),
    })?;
    std::fs::write(path, text).map_err(|e| ConvertError::Write {
        path: path.to_path_buf(),
        error: e,
    })
}

/// Writes `OME/METADATA.ome.xml` under `dir` (the original OME-XML, kept verbatim).
pub(crate) fn write_ome_xml(dir: &Path, xml: &str) -> Result<(), ConvertError> {
    let dir = dir.join("OME");
    std::fs::create_dir_all(&dir).map_err(|e| ConvertError::Write {
        path: dir.clone(),
        error: e,
    })?;
    std::fs::write(dir.join("METADATA.ome.xml"), xml).map_err(|e| ConvertError::Write {
        path: dir.clone(),
        error: e,
    })
}

/// The NGFF group documents of one image (multiscales, omero, `scopeflow`, source metadata);
/// returns the `omero` document, whose colours and windows the thumbnail uses.
pub(crate) fn write_image_attrs(
    dir: &Path,
    meta: &ImageMeta,
    pixels: &Pixels,
    name: &str,
    opts: &ConvertOptions,
    provenance: serde_json::Value,
) -> Result<serde_json::Value, ConvertError> {
    let mut extra = Map::new();
    extra.insert("scopeflow".into(), provenance);
    if !meta.metadata.is_empty() {
        extra.insert(
            "source_metadata".into(),
            serde_json::Value::Object(meta.metadata.clone()),
        );
    }
    let ms = metadata::multiscales(&pixels.plan, meta, name, opts.ngff);
    let om = metadata::omero(meta, &pixels.qc);
    for (file, doc) in metadata::group_files(opts.ngff, ms, om.clone(), extra) {
        write_json(&dir.join(file), &doc)?;
    }
    Ok(om)
}

pub(crate) fn file_name(path: &Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// Converts `src` to an OME-Zarr folder at `output`, computing QC and the source's SHA-256 in
/// the same pass.
///
/// # Errors
/// Bad options or an existing output (see [`ConvertError::is_usage`]), an unreadable source,
/// or a failed write; in every case nothing is left at `output`.
pub fn convert(
    src: &dyn ImageSource,
    output: &Path,
    opts: &ConvertOptions,
    progress: &(dyn Fn(u64) + Sync),
) -> Result<ConvertReport, ConvertError> {
    opts.validate().map_err(ConvertError::Options)?;
    let meta = src.meta();
    let t0 = std::time::Instant::now();
    let staging = Staging::new(output, opts.overwrite)?;
    let hasher = Hasher::start(src.path());
    let written = opts.record_digests.then(|| Written::new(&staging.dir));
    let pixels = write_pixels(src, &staging.dir, opts, written.as_ref(), progress)?;
    tracing::info!(seconds = t0.elapsed().as_secs_f64(), "pixels converted");
    let (sha256, source_size) = hasher
        .finish()
        .map_err(|e| FormatError::io(src.path(), e))?;
    tracing::info!(seconds = t0.elapsed().as_secs_f64(), "source hashed");

    let name = file_name(src.path());
    if let Some(xml) = &meta.ome_xml {
        write_ome_xml(&staging.dir, xml)?;
    }
    let provenance = metadata::provenance(&Provenance {
        source_name: &name,
        source_size,
        sha256: &sha256,
        format: &meta.format,
        parameters: opts.to_json(),
        qc: scopeflow_core::qc_document(&pixels.qc),
    });
    let omero = write_image_attrs(&staging.dir, meta, &pixels, &name, opts, provenance)?;
    staging.publish()?;
    tracing::info!(seconds = t0.elapsed().as_secs_f64(), output = %output.display(), "published");
    Ok(ConvertReport {
        output: output.to_path_buf(),
        level_shapes: pixels.plan.level_shapes(),
        axes: pixels.plan.axes_name(),
        qc: pixels.qc,
        thumbnail: pixels.thumbnail.finish(&omero),
        sha256,
        source_size,
        written: written.map(|w| w.take()).unwrap_or_default(),
    })
}
