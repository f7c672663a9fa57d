//! How a LIF image's dimensions become the T C Z Y X (S) axes of a series (NOTES-lif.md).
//!
//! A LIF image is a strided array: every dimension and every channel has a byte increment
//! from the start of the memory block, in any order. The mapping:
//! - the first dimension is X and the next one with more than one element is Y, whatever their
//!   ids, so an XZ scan is a plane whose rows are Z steps and an XT line scan one whose rows are
//!   time points (Bio-Formats does the same);
//! - Z (id 3), and Y (id 2) when it is not a plane axis, go to Z; time (4) goes to T;
//!   emission and excitation wavelength sweeps (5, 9) go to C, after the channels;
//!   mosaic tiles (10) make one series per tile, as Bio-Formats shows them;
//!   any other dimension (rotation, loops, ids 6 7 8 11 and unknown ones) goes to T;
//! - two dimensions on one axis are merged, the first listed varying fastest;
//! - three interleaved red, green, blue channels are an S axis in R, G, B order.

use std::sync::Arc;

use scopeflow_core::{Axis, DType, PhysicalSizes};

use super::xml::{DimDesc, ImageDesc};

/// One factor of a plane axis: its element count and the byte offset of each index.
#[derive(Clone, Debug)]
pub(super) enum Factor {
    Stride {
        n: u64,
        inc: u64,
    },
    /// Shared: every tile of a mosaic carries the same channel offsets.
    Offsets(Arc<[u64]>),
}

impl Factor {
    fn len(&self) -> u64 {
        match self {
            Factor::Stride { n, .. } => *n,
            Factor::Offsets(v) => v.len() as u64,
        }
    }

    fn offset(&self, i: u64) -> u64 {
        match self {
            Factor::Stride { inc, .. } => i.saturating_mul(*inc),
            Factor::Offsets(v) => usize::try_from(i)
                .ok()
                .and_then(|i| v.get(i))
                .copied()
                .unwrap_or(0),
        }
    }

    fn max_offset(&self) -> Option<u64> {
        match self {
            Factor::Stride { n, inc } => n.saturating_sub(1).checked_mul(*inc),
            Factor::Offsets(v) => Some(v.iter().copied().max().unwrap_or(0)),
        }
    }
}

/// One series: where its pixels are, relative to the start of the memory block.
#[derive(Clone, Debug)]
pub(super) struct Layout {
    pub name: String,
    /// `Err` holds the sample type's description when it is not readable (float16, 64-bit).
    pub dtype: Result<DType, String>,
    pub bytes_per_sample: u64,
    pub axes: Vec<Axis>,
    pub shape: Vec<usize>,
    /// Offset of this tile in the memory block.
    pub base: u64,
    pub width: u64,
    pub x_inc: u64,
    pub height: u64,
    pub y_inc: u64,
    /// Byte offset of each interleaved sample within a pixel (one entry without an S axis).
    pub samples: Vec<u64>,
    /// Factors of each plane axis, in `axes` order (T, C, Z present ones).
    pub plane_factors: Vec<Vec<Factor>>,
    pub physical: PhysicalSizes,
    pub time_increment: Option<f64>,
    /// Which LIF dimension each axis came from, for the metadata summary.
    pub mapping: Vec<(char, Vec<String>)>,
    pub tile: Option<(u64, u64)>,
    /// Bytes of all the series' pixels: never more than its memory block holds, since pixels
    /// do not overlap in a real file (a check that bounds any size by the file size).
    pub total_bytes: u64,
}

impl Layout {
    /// Offset of a plane (indices over the plane axes) from the start of the memory block.
    pub fn plane_offset(&self, plane: &[usize]) -> u64 {
        let mut off = self.base;
        for (factors, &idx) in self.plane_factors.iter().zip(plane) {
            let mut rest = idx as u64;
            for f in factors {
                let n = f.len().max(1);
                off = off.saturating_add(f.offset(rest % n));
                rest /= n;
            }
        }
        off
    }

    /// One past the last byte any pixel of this series occupies, relative to the block.
    pub fn extent(&self) -> Option<u64> {
        let mut end = self.base;
        for f in self.plane_factors.iter().flatten() {
            end = end.checked_add(f.max_offset()?)?;
        }
        end = end.checked_add(self.width.saturating_sub(1).checked_mul(self.x_inc)?)?;
        end = end.checked_add(self.height.saturating_sub(1).checked_mul(self.y_inc)?)?;
        end = end.checked_add(self.samples.iter().copied().max().unwrap_or(0))?;
        end.checked_add(self.bytes_per_sample)
    }
}

/// Dimension names as LAS X and liffile label them.
pub(super) fn dim_label(id: u32) -> &'static str {
    match id {
        1 => "X",
        2 => "Y",
        3 => "Z",
        4 => "T",
        5 => "emission wavelength",
        6 => "rotation",
        7 => "XT slices",
        8 => "T slices",
        9 => "excitation wavelength",
        10 => "mosaic tile",
        11 => "loop",
        _ => "unknown",
    }
}

fn sample_type(img: &ImageDesc) -> Result<(Result<DType, String>, u64), String> {
    let first = img
        .channels
        .first()
        .ok_or_else(|| format!("image '{}' has no ChannelDescription", img.path))?;
    if img
        .channels
        .iter()
        .any(|c| c.data_type != first.data_type || c.resolution != first.resolution)
    {
        return Ok((Err("channels of different sample types".into()), 1));
    }
    let bytes = match first.resolution {
        1..=8 => 1,
        9..=16 => 2,
        17..=32 => 4,
        33..=64 => 8,
        r => return Err(format!("image '{}': invalid Resolution {r}", img.path)),
    };
    let dtype = match (first.data_type, bytes) {
        (0, 1) => Ok(DType::U8),
        (0, 2) => Ok(DType::U16),
        (0, 4) => Ok(DType::U32),
        (1, 4) => Ok(DType::F32),
        (1, 8) => Ok(DType::F64),
        (0, b) => Err(format!("uint{}", b * 8)),
        (1, b) => Err(format!("float{}", b * 8)),
        (t, _) => Err(format!("DataType {t}")),
    };
    Ok((dtype, bytes))
}

/// Micrometres per unit of a LIF dimension (`m` in LAS X files), `None` for non-length units.
fn micrometres_per(unit: &str) -> Option<f64> {
    match crate::units::ngff_unit(unit)? {
        "meter" => Some(1e6),
        "millimeter" => Some(1e3),
        "micrometer" => Some(1.0),
        "nanometer" => Some(1e-3),
        _ => None,
    }
}

/// Pixel spacing of a dimension: Length spans first to last pixel centre.
fn spacing_um(d: &DimDesc) -> Option<f64> {
    let per = micrometres_per(&d.unit)?;
    let v = (d.length * per / (d.n.saturating_sub(1)) as f64).abs();
    (d.n > 1 && v.is_finite() && v > 0.0).then_some(v)
}

/// The series of one image: one, or one per mosaic tile.
pub(super) fn series_of(img: &ImageDesc, file_len: u64) -> Result<Vec<Layout>, String> {
    let (dtype, bps) = sample_type(img)?;
    let what = |m: &str| format!("image '{}': {m}", img.path);
    let mut dims = img.dims.iter();
    let x = dims.next().ok_or_else(|| what("no DimensionDescription"))?;
    if img.dims.iter().any(|d| d.n == 0) {
        return Err(what("a dimension has NumberOfElements 0"));
    }
    let rest: Vec<&DimDesc> = dims.filter(|d| d.n > 1).collect();
    let y = rest.first().copied();
    let (mut t, mut c, mut z) = (Vec::new(), Vec::new(), Vec::new());
    let (mut t_src, mut c_src, mut z_src) = (Vec::new(), Vec::new(), Vec::new());
    let mut tiles: Option<&DimDesc> = None;
    // Channels: an S axis when they are the interleaved samples of an RGB pixel.
    let mut chans: Vec<_> = img.channels.iter().collect();
    let rgb = chans.len() == 3
        && chans
            .iter()
            .all(|ch| ch.bytes_inc < x.bytes_inc || x.n == 1)
        && {
            let mut tags: Vec<u32> = chans.iter().map(|ch| ch.tag).collect();
            tags.sort_unstable();
            tags == [1, 2, 3]
        };
    let samples = if rgb {
        chans.sort_by_key(|ch| ch.tag);
        chans.iter().map(|ch| ch.bytes_inc).collect()
    } else {
        if chans.len() > 1 {
            c.push(Factor::Offsets(
                chans.iter().map(|ch| ch.bytes_inc).collect(),
            ));
            c_src.push("channels".to_string());
        }
        vec![0]
    };
    for d in rest.iter().skip(1) {
        let f = Factor::Stride {
            n: d.n,
            inc: d.bytes_inc,
        };
        let label = dim_label(d.id).to_string();
        let (axis, src) = match d.id {
            10 if tiles.is_none() => {
                tiles = Some(d);
                continue;
            }
            2 | 3 => (&mut z, &mut z_src),
            5 | 9 => (&mut c, &mut c_src),
            _ => (&mut t, &mut t_src),
        };
        axis.push(f);
        src.push(label);
    }
    let len = |fs: &[Factor]| -> Result<usize, String> {
        fs.iter()
            .try_fold(1u64, |a, f| a.checked_mul(f.len()))
            .and_then(|n| usize::try_from(n).ok())
            .ok_or_else(|| what("too many planes"))
    };
    let (nt, nc, nz) = (len(&t)?, len(&c)?, len(&z)?);
    let height = y.map_or(1, |d| d.n);
    let (w, h) = (
        usize::try_from(x.n).map_err(|_| what("too wide"))?,
        usize::try_from(height).map_err(|_| what("too tall"))?,
    );
    let mut axes = Vec::new();
    let mut shape = Vec::new();
    let mut plane_factors = Vec::new();
    let mut mapping = Vec::new();
    for (axis, n, fs, src) in [
        (Axis::T, nt, t, t_src),
        (Axis::C, nc, c, c_src),
        (Axis::Z, nz, z, z_src),
    ] {
        if n > 1 {
            axes.push(axis);
            shape.push(n);
            plane_factors.push(fs);
            mapping.push((axis.letter(), src));
        }
    }
    axes.extend([Axis::Y, Axis::X]);
    shape.extend([h, w]);
    mapping.push((
        'Y',
        y.map(|d| vec![dim_label(d.id).to_string()])
            .unwrap_or_default(),
    ));
    mapping.push(('X', vec![dim_label(x.id).to_string()]));
    if rgb {
        axes.push(Axis::S);
        shape.push(3);
    }
    let z_dim = match rest
        .iter()
        .skip(1)
        .filter(|d| matches!(d.id, 2 | 3))
        .count()
    {
        1 => rest.iter().skip(1).find(|d| matches!(d.id, 2 | 3)).copied(),
        _ => None,
    };
    let total_bytes = shape
        .iter()
        .try_fold(bps, |a, &n| a.checked_mul(n as u64))
        .ok_or_else(|| what("too large"))?;
    let physical = PhysicalSizes {
        x: spacing_um(x),
        y: y.and_then(spacing_um),
        z: z_dim.and_then(spacing_um),
    };
    let time_dims: Vec<&&DimDesc> = rest
        .iter()
        .skip(1)
        .filter(|d| !matches!(d.id, 2 | 3 | 5 | 9 | 10))
        .collect();
    let time_increment = match time_dims.as_slice() {
        [d] if d.id == 4 && d.unit.trim() == "s" && d.length > 0.0 => {
            Some(d.length / (d.n - 1) as f64)
        }
        _ => None,
    };
    let base = Layout {
        name: img.path.clone(),
        dtype,
        bytes_per_sample: bps,
        axes,
        shape,
        base: 0,
        width: x.n,
        x_inc: x.bytes_inc,
        height,
        y_inc: y.map_or(0, |d| d.bytes_inc),
        samples,
        plane_factors,
        physical,
        time_increment,
        mapping,
        tile: None,
        total_bytes,
    };
    let Some(m) = tiles else {
        return Ok(vec![base]);
    };
    // Tiles do not overlap: more of them than the file has room for means a damaged header.
    if m.bytes_inc == 0 || m.n.saturating_mul(m.bytes_inc) > file_len {
        return Err(what("mosaic tiles do not fit in the file"));
    }
    Ok((0..m.n)
        .map(|k| Layout {
            name: format!("{} (tile {} of {})", img.path, k + 1, m.n),
            base: k.saturating_mul(m.bytes_inc),
            tile: Some((k, m.n)),
            ..base.clone()
        })
        .collect())
}
