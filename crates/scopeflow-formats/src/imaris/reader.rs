//! Pixels of an Imaris file: one hyperslab (`z, y0..y1, 0..x`) of one `Data` array per band,
//! so memory holds the band plus the HDF5 chunk cache, sized to the chunks a band touches.

use std::path::{Path, PathBuf};

use hdf5::{Dataset, File};
use scopeflow_core::{Axis, DType, ImageMeta};

use super::layout::{self, Layout, h5_error};
use super::meta;
use crate::{FormatError, ImageSource, PlaneReader};

/// Bounds of the raw-data chunk cache: HDF5 drops chunks bigger than the cache on every
/// read, so it must hold the chunks one band touches, but no more than this.
const MIN_CACHE: u64 = 1 << 20;
const MAX_CACHE: u64 = 512 << 20;
/// Band height offered for unchunked data (any band reads efficiently there).
const CONTIGUOUS_ROWS: usize = 64;

pub(crate) struct ImarisSource {
    path: PathBuf,
    file: File,
    layout: Layout,
    meta: ImageMeta,
}

fn open_file(path: &Path, cache: Option<(usize, usize)>) -> Result<File, FormatError> {
    let result = match cache {
        None => File::open(path),
        Some((slots, bytes)) => File::with_options()
            .with_fapl(|p| p.chunk_cache(slots, bytes, 0.75))
            .open(path),
    };
    result.map_err(|e| h5_error(path, "HDF5 cannot open the file", &e))
}

/// Cache slots and bytes for two rows of chunks across the image (a band may straddle two).
fn chunk_cache(layout: &Layout) -> (usize, usize) {
    let Some(chunk) = layout.chunk.as_ref().filter(|c| c.len() == 3) else {
        return (521, MIN_CACHE as usize);
    };
    let chunk_bytes = chunk.iter().fold(layout.dtype.size() as u64, |acc, &n| {
        acc.saturating_mul(n as u64)
    });
    let across = layout
        .stored
        .get(2)
        .map_or(1, |&x| (x as u64).div_ceil(chunk[2].max(1) as u64));
    let bytes = chunk_bytes
        .saturating_mul(across.saturating_mul(2))
        .clamp(MIN_CACHE, MAX_CACHE);
    let slots = across
        .saturating_mul(2)
        .saturating_mul(50)
        .clamp(521, 1 << 20)
        | 1;
    (slots as usize, bytes as usize)
}

impl ImarisSource {
    pub fn open(path: &Path) -> Result<Self, FormatError> {
        // The chunk cache is a file-access setting and depends on the chunk shape, which is
        // only known once the file is open: read the layout, close, reopen with the cache.
        let layout = layout::read(&open_file(path, None)?, path)?;
        let file = open_file(path, Some(chunk_cache(&layout)))?;
        let meta = meta::build(&file, &layout);
        Ok(ImarisSource {
            path: path.to_path_buf(),
            file,
            layout,
            meta,
        })
    }
}

impl ImageSource for ImarisSource {
    fn meta(&self) -> &ImageMeta {
        &self.meta
    }

    fn path(&self) -> &Path {
        &self.path
    }

    fn natural_rows(&self) -> usize {
        match &self.layout.chunk {
            Some(c) if c.len() == 3 => c[1].clamp(1, self.layout.size[1]),
            _ => CONTIGUOUS_ROWS.min(self.layout.size[1]),
        }
    }

    fn plane_reader(&self, plane: &[usize]) -> Result<Box<dyn PlaneReader + '_>, FormatError> {
        let axes = self.meta.plane_axes();
        if plane.len() != axes.len() {
            return Err(self.usage(format!(
                "plane index {plane:?} has {} values, the image has {} plane axes",
                plane.len(),
                axes.len()
            )));
        }
        let (mut t, mut c, mut z) = (0, 0, 0);
        for (&axis, &i) in axes.iter().zip(plane) {
            let n = self.meta.axis_len(axis).unwrap_or(1);
            if i >= n {
                return Err(self.usage(format!("plane index {plane:?} is out of range")));
            }
            match axis {
                Axis::T => t = i,
                Axis::C => c = i,
                Axis::Z => z = i,
                _ => {}
            }
        }
        let what = self.layout.data_path(t, c);
        let data = self
            .file
            .dataset(&what)
            .map_err(|e| h5_error(&self.path, &what, &e))?;
        Ok(Box::new(ImarisPlane {
            source: self,
            data,
            what,
            z,
        }))
    }
}

impl ImarisSource {
    fn usage(&self, what: String) -> FormatError {
        FormatError::Usage {
            path: self.path.clone(),
            what,
        }
    }
}

struct ImarisPlane<'a> {
    source: &'a ImarisSource,
    data: Dataset,
    what: String,
    z: usize,
}

impl PlaneReader for ImarisPlane<'_> {
    fn read_rows(&mut self, y0: usize, y1: usize, out: &mut [u8]) -> Result<(), FormatError> {
        let src = self.source;
        let [_, ny, nx] = src.layout.size;
        let size = src.layout.dtype.size();
        if y0 > y1 || y1 > ny {
            return Err(src.usage(format!("rows {y0}..{y1} are outside 0..{ny}")));
        }
        let want = (y1 - y0) * nx * size;
        if out.len() != want {
            return Err(src.usage(format!(
                "buffer of {} bytes for rows {y0}..{y1}, {want} needed",
                out.len()
            )));
        }
        if y0 == y1 {
            return Ok(());
        }
        let selection = (self.z, y0..y1, 0..nx);
        let path = &src.path;
        let what = &self.what;
        macro_rules! band {
            ($t:ty) => {{
                let pixels = self
                    .data
                    .read_slice_2d::<$t, _>(selection)
                    .map_err(|e| h5_error(path, &format!("{what}: rows {y0}..{y1}"), &e))?;
                if pixels.len() * size != want {
                    return Err(FormatError::corrupt(
                        path,
                        format!("{what}: rows {y0}..{y1} returned {} pixels", pixels.len()),
                    ));
                }
                for (o, v) in out.chunks_exact_mut(size).zip(pixels.iter()) {
                    o.copy_from_slice(&v.to_le_bytes());
                }
            }};
        }
        match src.layout.dtype {
            DType::U8 => band!(u8),
            DType::U16 => band!(u16),
            DType::U32 => band!(u32),
            DType::I8 => band!(i8),
            DType::I16 => band!(i16),
            DType::I32 => band!(i32),
            DType::F32 => band!(f32),
            DType::F64 => band!(f64),
        }
        Ok(())
    }
}
