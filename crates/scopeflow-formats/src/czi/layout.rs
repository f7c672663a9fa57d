//! From directory entries to scenes: which subblocks make up each series, where each sits in
//! its scene's plane, and the T/C/Z extent of the scene.
//!
//! Rules (the conventions of `make_format_samples.py`, which follow libCZI's own reader):
//! - a scene (S index; no S dimension means scene 0) is a series;
//! - only full-resolution subblocks count: a stored size smaller than the logical size is a
//!   pyramid level and is skipped;
//! - the scene's plane is the bounding box of its subblocks' X/Y rectangles, which are stage
//!   coordinates in pixels (often large, possibly negative); each subblock is placed relative
//!   to the box's corner;
//! - where tiles overlap, the one with the higher M index wins (it is drawn later), then the
//!   later directory entry: libCZI's composer draws in the same order.

use std::collections::BTreeMap;

use std::path::Path;

use scopeflow_core::DType;

use crate::FormatError;

use super::segments::Entry;

/// Planes or pixels beyond these are not images but corrupt counts.
const MAX_EXTENT: i64 = 1 << 31;

/// One full-resolution subblock, placed in its scene.
#[derive(Clone, Debug)]
pub(crate) struct Tile {
    /// Position in the scene's plane (pixels from the bounding box's corner).
    pub x: usize,
    pub y: usize,
    pub width: usize,
    pub height: usize,
    pub t: i64,
    pub c: i64,
    pub z: i64,
    pub m: i64,
    pub compression: i32,
    pub file_position: u64,
    /// Index in the directory: ties in M are drawn in file order.
    pub order: usize,
}

/// Range of one plane dimension: first index and count.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Extent {
    pub first: i64,
    pub len: usize,
}

#[derive(Clone, Debug)]
pub(crate) struct Scene {
    /// The S index as written in the file.
    pub s: i64,
    pub origin: (i64, i64),
    pub width: usize,
    pub height: usize,
    pub pixel_type: PixelType,
    pub t: Extent,
    pub c: Extent,
    pub z: Extent,
    pub tiles: Vec<Tile>,
    /// Dimensions other than T/C/Z/S/M/B that vary; only their first index is read.
    pub ignored_dims: Vec<char>,
    pub pyramid_subblocks: usize,
}

/// The pixel types this reader decodes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct PixelType {
    pub code: i32,
    pub dtype: DType,
    /// 3 for Bgr (reported as R, G, B), else 1.
    pub samples: usize,
}

impl PixelType {
    pub fn bytes_per_pixel(&self) -> usize {
        self.samples * self.dtype.size()
    }
}

pub(crate) fn pixel_type_name(code: i32) -> String {
    match code {
        0 => "Gray8".into(),
        1 => "Gray16".into(),
        2 => "Gray32Float".into(),
        3 => "Bgr24".into(),
        4 => "Bgr48".into(),
        8 => "Bgr96Float".into(),
        9 => "Bgra32".into(),
        10 => "Gray64ComplexFloat".into(),
        11 => "Bgr192ComplexFloat".into(),
        12 => "Gray32".into(),
        13 => "Gray64".into(),
        n => format!("unknown pixel type {n}"),
    }
}

pub(crate) fn pixel_type(code: i32) -> Result<PixelType, String> {
    let (dtype, samples) = match code {
        0 => (DType::U8, 1),
        1 => (DType::U16, 1),
        2 => (DType::F32, 1),
        3 => (DType::U8, 3),
        4 => (DType::U16, 3),
        _ => {
            return Err(format!(
                "pixel type {} is not supported (Gray8, Gray16, Gray32Float, Bgr24 and Bgr48 are)",
                pixel_type_name(code)
            ));
        }
    };
    Ok(PixelType {
        code,
        dtype,
        samples,
    })
}

pub(crate) fn compression_name(code: i32) -> String {
    match code {
        0 => "uncompressed".into(),
        1 => "JPEG".into(),
        2 => "LZW".into(),
        4 => "JPEG-XR".into(),
        5 => "zstd0".into(),
        6 => "zstd1".into(),
        n => format!("compression code {n}"),
    }
}

fn start(e: &Entry, letter: char) -> i64 {
    e.dim(letter).map_or(0, |d| i64::from(d.start))
}

/// Splits the directory into scenes, sorted by S index.
pub(crate) fn scenes(path: &Path, entries: &[Entry]) -> Result<Vec<Scene>, FormatError> {
    let mut out = Vec::new();
    for (s, list, pyramid) in group(entries).map_err(|e| FormatError::corrupt(path, e))? {
        let code = list[0].1.pixel_type;
        if let Some((i, e)) = list.iter().find(|(_, e)| e.pixel_type != code) {
            return Err(FormatError::unsupported(
                path,
                format!(
                    "scene {s} mixes pixel types {} and {} (subblock {i})",
                    pixel_type_name(code),
                    pixel_type_name(e.pixel_type)
                ),
            ));
        }
        let pt = pixel_type(code)
            .map_err(|e| FormatError::unsupported(path, format!("scene {s}: {e}")))?;
        out.push(scene(s, pt, &list, pyramid).map_err(|e| FormatError::corrupt(path, e))?);
    }
    Ok(out)
}

type Group<'a> = (i64, Vec<(usize, &'a Entry)>, usize);

fn group(entries: &[Entry]) -> Result<Vec<Group<'_>>, String> {
    let mut by_scene: BTreeMap<i64, Vec<(usize, &Entry)>> = BTreeMap::new();
    let mut pyramid: BTreeMap<i64, usize> = BTreeMap::new();
    for (i, e) in entries.iter().enumerate() {
        let (Some(x), Some(y)) = (e.dim('X'), e.dim('Y')) else {
            return Err(format!("subblock {i} has no X or Y dimension"));
        };
        if x.size <= 0 || y.size <= 0 || x.stored_size <= 0 || y.stored_size <= 0 {
            return Err(format!("subblock {i} has an empty or negative size"));
        }
        let s = start(e, 'S');
        if x.stored_size != x.size || y.stored_size != y.size {
            *pyramid.entry(s).or_default() += 1;
            continue;
        }
        by_scene.entry(s).or_default().push((i, e));
    }
    if by_scene.is_empty() {
        return Err("the file holds no full-resolution subblock".into());
    }
    Ok(by_scene
        .into_iter()
        .map(|(s, list)| {
            let n = pyramid.get(&s).copied().unwrap_or(0);
            (s, list, n)
        })
        .collect())
}

fn extent(list: &[(usize, &Entry)], letter: char) -> Result<Extent, String> {
    let (lo, hi) = list.iter().fold((i64::MAX, i64::MIN), |(lo, hi), (_, e)| {
        let v = start(e, letter);
        (lo.min(v), hi.max(v))
    });
    let len = hi - lo + 1;
    if len > list.len() as i64 {
        return Err(format!(
            "{letter} indices {lo}..={hi} span more planes than the scene has subblocks ({})",
            list.len()
        ));
    }
    Ok(Extent {
        first: lo,
        len: len as usize,
    })
}

fn scene(
    s: i64,
    pixel_type: PixelType,
    list: &[(usize, &Entry)],
    pyramid_subblocks: usize,
) -> Result<Scene, String> {
    // Dimensions that this reader does not expose: keep only their first index.
    let mut ignored_dims = Vec::new();
    let mut firsts: BTreeMap<char, i64> = BTreeMap::new();
    for (_, e) in list {
        for d in &e.dims {
            if !"XYTCZSMB".contains(d.letter()) {
                let v = firsts.entry(d.letter()).or_insert(i64::from(d.start));
                if *v != i64::from(d.start) && !ignored_dims.contains(&d.letter()) {
                    ignored_dims.push(d.letter());
                }
                *v = (*v).min(i64::from(d.start));
            }
        }
    }
    let list: Vec<(usize, &Entry)> = list
        .iter()
        .copied()
        .filter(|(_, e)| {
            e.dims.iter().all(|d| {
                firsts
                    .get(&d.letter())
                    .is_none_or(|&f| f == i64::from(d.start))
            })
        })
        .collect();
    if list.is_empty() {
        return Err(format!(
            "scene {s}: no subblock has the first index of every dimension"
        ));
    }
    let rect = |e: &Entry, l: char| {
        e.dim(l).map_or((0, 0), |d| {
            (i64::from(d.start), i64::from(d.start) + i64::from(d.size))
        })
    };
    let (mut x0, mut y0, mut x1, mut y1) = (i64::MAX, i64::MAX, i64::MIN, i64::MIN);
    for (_, e) in &list {
        let (a, b) = rect(e, 'X');
        let (c, d) = rect(e, 'Y');
        (x0, x1, y0, y1) = (x0.min(a), x1.max(b), y0.min(c), y1.max(d));
    }
    if x1 - x0 > MAX_EXTENT || y1 - y0 > MAX_EXTENT {
        return Err(format!("scene {s} spans {} x {} pixels", x1 - x0, y1 - y0));
    }
    let mut tiles: Vec<Tile> = list
        .iter()
        .map(|&(order, e)| {
            let (a, b) = rect(e, 'X');
            let (c, d) = rect(e, 'Y');
            Tile {
                x: (a - x0) as usize,
                y: (c - y0) as usize,
                width: (b - a) as usize,
                height: (d - c) as usize,
                t: start(e, 'T'),
                c: start(e, 'C'),
                z: start(e, 'Z'),
                m: e.dim('M').map_or(-1, |d| i64::from(d.start)),
                compression: e.compression,
                file_position: e.file_position,
                order,
            }
        })
        .collect();
    tiles.sort_by_key(|t| (t.m, t.order));
    Ok(Scene {
        s,
        origin: (x0, y0),
        width: (x1 - x0) as usize,
        height: (y1 - y0) as usize,
        pixel_type,
        t: extent(&list, 'T')?,
        c: extent(&list, 'C')?,
        z: extent(&list, 'Z')?,
        tiles,
        ignored_dims,
        pyramid_subblocks,
    })
}
