//! The catalog's picture of an image: its lowest pyramid level, captured while the pass stores
//! it (the source is never read again), reduced to at most [`MAX_SIDE`] pixels on its longer
//! side and composited in RGB with the `omero` colours and windows of the OME-Zarr metadata.
//!
//! Exactly (README "Thumbnails"): the first time point; each channel's plane averaged over
//! `f × f` boxes, `f = ceil(longer side / 256)` (edge boxes average the pixels they have); the
//! maximum over z of those means; each channel scaled by its window to [0, 1], multiplied by
//! its colour, summed over channels, clipped to [0, 1] and rounded to 8 bits.

use std::path::Path;
use std::sync::Mutex;

use scopeflow_core::{Axis, DType};
use serde_json::Value;

use crate::ConvertError;
use crate::plan::Plan;

/// Longer side of a thumbnail, in pixels.
pub const MAX_SIDE: usize = 256;

/// An 8-bit RGB composite, row-major.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Thumbnail {
    pub width: u32,
    pub height: u32,
    pub rgb: Vec<u8>,
}

impl Thumbnail {
    /// PNG bytes of the composite.
    ///
    /// # Errors
    /// The encoder refuses the buffer (never for a composite built here).
    pub fn to_png(&self) -> Result<Vec<u8>, String> {
        let mut out = std::io::Cursor::new(Vec::new());
        image::write_buffer_with_format(
            &mut out,
            &self.rgb,
            self.width,
            self.height,
            image::ExtendedColorType::Rgb8,
            image::ImageFormat::Png,
        )
        .map_err(|e| e.to_string())?;
        Ok(out.into_inner())
    }

    /// Writes the PNG at `path` (replacing what is there).
    ///
    /// # Errors
    /// [`ConvertError::Write`] naming `path`.
    pub fn write_png(&self, path: &Path) -> Result<(), ConvertError> {
        let bytes = self.to_png().map_err(|e| ConvertError::Write {
            path: path.to_path_buf(),
            error: std::io::Error::other(e),
        })?;
        std::fs::write(path, bytes).map_err(|e| ConvertError::Write {
            path: path.to_path_buf(),
            error: e,
        })
    }
}

/// Box means of one output plane of the lowest level (one per plane sink, so no lock per band).
pub(crate) struct PlaneGrid {
    channel: usize,
    sum: Vec<f64>,
    count: Vec<u32>,
}

/// The per-channel maximum over z of the plane grids, shared by the pass's threads.
pub(crate) struct Capture {
    level: usize,
    factor: usize,
    width: usize,
    height: usize,
    dtype: DType,
    t_pos: Option<usize>,
    c_pos: Option<usize>,
    channels: Mutex<Vec<Vec<f64>>>,
}

impl Capture {
    pub(crate) fn new(plan: &Plan, dtype: DType) -> Capture {
        let level = plan.levels.len() - 1;
        let l = &plan.levels[level];
        let factor = l.height.max(l.width).div_ceil(MAX_SIDE).max(1);
        let (height, width) = (l.height.div_ceil(factor), l.width.div_ceil(factor));
        let c_pos = plan.axes.iter().position(|&a| a == Axis::C);
        let n = c_pos.map_or(1, |i| plan.lead[i].1);
        Capture {
            level,
            factor,
            width,
            height,
            dtype,
            t_pos: plan.axes.iter().position(|&a| a == Axis::T),
            c_pos,
            channels: Mutex::new(vec![vec![f64::NEG_INFINITY; width * height]; n]),
        }
    }

    /// The grid of the output plane at lead index `lead`, or `None` past the first time point.
    pub(crate) fn plane(&self, lead: &[u64]) -> Option<PlaneGrid> {
        if self.t_pos.is_some_and(|i| lead[i] != 0) {
            return None;
        }
        let cells = self.width * self.height;
        Some(PlaneGrid {
            channel: self.c_pos.map_or(0, |i| lead[i] as usize),
            sum: vec![0.0; cells],
            count: vec![0; cells],
        })
    }

    /// Accounts `rows` rows of level `k` starting at row `r0` (`width` pixels each).
    pub(crate) fn add(&self, grid: &mut PlaneGrid, k: usize, r0: usize, data: &[u8], width: usize) {
        if k != self.level {
            return;
        }
        let size = self.dtype.size();
        for (r, row) in data.chunks_exact(width * size).enumerate() {
            let base = (r0 + r) / self.factor * self.width;
            for (x, px) in row.chunks_exact(size).enumerate() {
                let cell = base + x / self.factor;
                grid.sum[cell] += sample(self.dtype, px);
                grid.count[cell] += 1;
            }
        }
    }

    /// Folds a finished plane into its channel's maximum over z.
    pub(crate) fn merge(&self, grid: PlaneGrid) {
        let mut channels = self.channels.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(max) = channels.get_mut(grid.channel) {
            for ((m, s), &n) in max.iter_mut().zip(&grid.sum).zip(&grid.count) {
                if n > 0 {
                    *m = m.max(s / f64::from(n));
                }
            }
        }
    }

    /// The composite, with the colours and windows of `omero` (the document written beside).
    pub(crate) fn finish(self, omero: &Value) -> Thumbnail {
        let channels = self
            .channels
            .into_inner()
            .unwrap_or_else(|e| e.into_inner());
        let display: Vec<Value> = omero["channels"].as_array().cloned().unwrap_or_default();
        let mut acc = vec![[0.0f64; 3]; self.width * self.height];
        for (values, d) in channels.iter().zip(&display) {
            if d["active"] == false {
                continue;
            }
            let colour = rgb(d["color"].as_str().unwrap_or("FFFFFF"));
            let start = d["window"]["start"].as_f64().unwrap_or(0.0);
            let end = d["window"]["end"].as_f64().unwrap_or(1.0);
            for (a, &v) in acc.iter_mut().zip(values) {
                let s = scaled(v, start, end);
                for (o, c) in a.iter_mut().zip(colour) {
                    *o += s * c;
                }
            }
        }
        Thumbnail {
            width: self.width as u32,
            height: self.height as u32,
            rgb: acc
                .iter()
                .flat_map(|a| a.map(|v| (v.clamp(0.0, 1.0) * 255.0).round() as u8))
                .collect(),
        }
    }
}

/// `v` in the window `[start, end]`, mapped to [0, 1]; an empty window is a step at `start`.
fn scaled(v: f64, start: f64, end: f64) -> f64 {
    if !v.is_finite() {
        return 0.0;
    }
    if end > start {
        ((v - start) / (end - start)).clamp(0.0, 1.0)
    } else if v > start {
        1.0
    } else {
        0.0
    }
}

/// `RRGGBB` as fractions; anything else is white.
fn rgb(hex: &str) -> [f64; 3] {
    let byte = |i: usize| {
        hex.get(i..i + 2)
            .and_then(|h| u8::from_str_radix(h, 16).ok())
    };
    match (hex.len(), byte(0), byte(2), byte(4)) {
        (6, Some(r), Some(g), Some(b)) => [r, g, b].map(|c| f64::from(c) / 255.0),
        _ => [1.0; 3],
    }
}

/// One little-endian sample (`px` holds exactly `dtype.size()` bytes).
fn sample(dtype: DType, px: &[u8]) -> f64 {
    fn le<const N: usize>(px: &[u8]) -> [u8; N] {
        let mut a = [0u8; N];
        a.copy_from_slice(&px[..N]);
        a
    }
    match dtype {
        DType::U8 => f64::from(px[0]),
        DType::I8 => f64::from(px[0] as i8),
        DType::U16 => f64::from(u16::from_le_bytes(le(px))),
        DType::I16 => f64::from(i16::from_le_bytes(le(px))),
        DType::U32 => f64::from(u32::from_le_bytes(le(px))),
        DType::I32 => f64::from(i32::from_le_bytes(le(px))),
        DType::F32 => f64::from(f32::from_le_bytes(le(px))),
        DType::F64 => f64::from_le_bytes(le(px)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_scale_and_clip() {
        assert_eq!(scaled(50.0, 0.0, 100.0), 0.5);
        assert_eq!(scaled(-5.0, 0.0, 100.0), 0.0);
        assert_eq!(scaled(500.0, 0.0, 100.0), 1.0);
        assert_eq!(scaled(7.0, 7.0, 7.0), 0.0);
        assert_eq!(scaled(8.0, 7.0, 7.0), 1.0);
        assert_eq!(scaled(f64::NAN, 0.0, 1.0), 0.0);
    }

    #[test]
    fn colours_parse_or_fall_back_to_white() {
        assert_eq!(rgb("FF0000"), [1.0, 0.0, 0.0]);
        assert_eq!(rgb("00ff00"), [0.0, 1.0, 0.0]);
        assert_eq!(rgb("nope"), [1.0; 3]);
        assert_eq!(rgb("ZZ0000"), [1.0; 3]);
    }

    #[test]
    fn samples_decode_little_endian() {
        assert_eq!(sample(DType::U16, &[0x34, 0x12]), 4660.0);
        assert_eq!(sample(DType::I8, &[0xFF]), -1.0);
        assert_eq!(sample(DType::F32, &1.5f32.to_le_bytes()), 1.5);
        assert_eq!(sample(DType::F64, &(-2.0f64).to_le_bytes()), -2.0);
    }

    #[test]
    fn png_round_trips() {
        let t = Thumbnail {
            width: 2,
            height: 1,
            rgb: vec![255, 0, 0, 0, 0, 255],
        };
        let png = t.to_png().unwrap();
        assert_eq!(&png[1..4], b"PNG");
    }
}
