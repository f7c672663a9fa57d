//! Pixels of an Imaris file: one hyperslab (`z, y0..y1, 0..x`) of one `Data` array per band.
//!
//! Imaris chunks are 3-D (typically 8 or 16 planes deep), and planes are read one at a time:
//! without care every chunk would be decompressed once per plane it spans. HDF5 keeps its chunk
//! cache per open dataset, so the source keeps the last dataset open between plane readers and
//! sizes the cache to one slab of chunks (the whole plane, chunk-deep) when that stays under
//! [`SLAB_CACHE`]; bigger planes get a cache of two rows of chunks (what one band touches).

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use hdf5::{Dataset, File};
use scopeflow_core::{DType, ImageMeta};

use super::direct::Direct;
use super::layout::{self, Layout, h5_error};
use super::meta;
use crate::{FormatError, ImageSource, PlaneReader};

/// Bounds of the raw-data chunk cache: HDF5 drops chunks bigger than the cache on every
/// read, so it must hold the chunks one band touches, but no more than this.
const MIN_CACHE: u64 = 1 << 20;
const MAX_CACHE: u64 = 512 << 20;
/// Largest chunk slab (plane × chunk depth, decompressed) cached across planes: reading a
/// 2048 × 2048 uint16 stack with 8-deep chunks this way is about 6× faster than re-reading.
const SLAB_CACHE: u64 = 64 << 20;
/// Datasets (time point × channel) kept open with their chunk caches: one per converter thread
/// at work on its own channel, on the machines the agent runs on; each costs at most one cache.
const KEEP_OPEN: usize = 2;
/// Band height offered for unchunked data (any band reads efficiently there).
const CONTIGUOUS_ROWS: usize = 64;

/// An open `Data` array: (time point, channel), the dataset, whether [`Direct`] reads it.
type OpenData = ((usize, usize), Dataset, bool);

pub(crate) struct ImarisSource {
    path: PathBuf,
    file: File,
    layout: Layout,
    meta: ImageMeta,
    /// The last `Data` arrays used (time point, channel), most recent first, and whether
    /// [`Direct`] reads them: keeps HDF5's chunk caches alive between the plane readers of
    /// consecutive Z planes.
    recent: Mutex<Vec<OpenData>>,
    /// Chunks inflated on the readers' own threads, when the storage allows it.
    direct: Option<Direct>,
}

fn open_file(path: &Path, cache: Option<(usize, usize)>) -> Result<File, FormatError> {
    let result = match cache {
        None => File::open(path),
        Some((slots, bytes)) => File::with_options()
            .with_fapl(|p| p.chunk_cache(slots, bytes, 0.75))
            .open(path),
    };
    result.map_err(|e| {
        // A writer (Imaris, ImarisWriter, h5py) holds an exclusive lock while the file is
        // open for writing: not corruption, the file is simply not finished.
        if e.to_string().contains("unable to lock file") {
            let what = format!(
                "the file is locked by another program, probably still writing it (HDF5 file \
                 lock; on a file system without locks set HDF5_USE_FILE_LOCKING=FALSE): {e}"
            );
            FormatError::io(
                path,
                std::io::Error::new(std::io::ErrorKind::WouldBlock, what),
            )
        } else {
            h5_error(path, "HDF5 cannot open the file", &e)
        }
    })
}

/// Cache slots and bytes: one slab of chunks when it is small enough, else two rows of
/// chunks across the image (a band may straddle two).
fn chunk_cache(layout: &Layout) -> (usize, usize) {
    let Some(chunk) = layout.chunk.as_ref().filter(|c| c.len() == 3) else {
        return (521, MIN_CACHE as usize);
    };
    let chunk_bytes = chunk.iter().fold(layout.dtype.size() as u64, |acc, &n| {
        acc.saturating_mul(n as u64)
    });
    let count = |axis: usize| {
        layout
            .stored
            .get(axis)
            .map_or(1, |&n| (n as u64).div_ceil(chunk[axis].max(1) as u64))
    };
    let (down, across) = (count(1), count(2));
    let slab = down.saturating_mul(across);
    let chunks = if chunk_bytes.saturating_mul(slab) <= SLAB_CACHE {
        slab
    } else {
        across.saturating_mul(2)
    };
    let bytes = chunk_bytes
        .saturating_mul(chunks)
        .saturating_add(chunk_bytes)
        .clamp(MIN_CACHE, MAX_CACHE);
    let slots = chunks.saturating_mul(50).clamp(521, 1 << 20) | 1;
    (slots as usize, bytes as usize)
}

impl ImarisSource {
    pub fn open(path: &Path) -> Result<Self, FormatError> {
        // The chunk cache is a file-access setting and depends on the chunk shape, which is
        // only known once the file is open: read the layout, close, reopen with the cache.
        let layout = layout::read(&open_file(path, None)?, path)?;
        let cache = chunk_cache(&layout);
        let file = open_file(path, Some(cache))?;
        let meta = meta::build(&file, &layout);
        // With a user block, HDF5's chunk addresses are relative to the superblock, not the
        // file's start (and not every HDF5 version says which): HDF5 then reads everything.
        let direct = file
            .dataset(&layout.data_path(0, 0))
            .ok()
            .filter(|_| file.userblock() == 0)
            .and_then(|data0| {
                Direct::new(
                    path,
                    &data0,
                    layout.size,
                    layout.dtype.size(),
                    KEEP_OPEN * cache.1,
                )
            });
        Ok(ImarisSource {
            path: path.to_path_buf(),
            file,
            layout,
            meta,
            recent: Mutex::new(Vec::with_capacity(KEEP_OPEN + 1)),
            direct,
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
        let (t, c, z) = crate::source::plane_tcz(&self.meta, &self.path, plane)?;
        let what = self.layout.data_path(t, c);
        let mut recent = self.recent.lock().unwrap_or_else(|e| e.into_inner());
        let (data, direct) = match recent.iter().position(|(key, ..)| *key == (t, c)) {
            Some(i) => {
                let hit = recent.remove(i);
                let found = (hit.1.clone(), hit.2);
                recent.insert(0, hit);
                found
            }
            None => {
                let data = self
                    .file
                    .dataset(&what)
                    .map_err(|e| h5_error(&self.path, &what, &e))?;
                let direct = self.direct.as_ref().is_some_and(|d| d.fits(&data));
                recent.insert(0, ((t, c), data.clone(), direct));
                recent.truncate(KEEP_OPEN);
                (data, direct)
            }
        };
        drop(recent);
        Ok(Box::new(ImarisPlane {
            source: self,
            data,
            what,
            tc: (t, c),
            z,
            direct,
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
    tc: (usize, usize),
    z: usize,
    /// Read through [`Direct`] (else, or for a chunk it cannot read, through HDF5).
    direct: bool,
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
        if self.direct
            && let Some(d) = &src.direct
            && d.rows(&src.path, &self.data, self.tc, self.z, (y0, y1), nx, out)?
        {
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

#[cfg(test)]
mod tests {
    use super::{Layout, chunk_cache};
    use scopeflow_core::DType;

    fn layout(stored: [usize; 3], chunk: [usize; 3]) -> Layout {
        Layout {
            level0: "DataSet/ResolutionLevel 0".into(),
            info: None,
            times: 1,
            channels: 1,
            size: stored,
            stored: stored.to_vec(),
            dtype: DType::U16,
            chunk: Some(chunk.to_vec()),
            filters: Vec::new(),
            resolution_levels: 1,
        }
    }

    #[test]
    fn cache_holds_a_slab_of_chunks_or_two_rows() {
        const MIB: usize = 1 << 20;
        // 2048 x 2048, 8 x 256 x 256 chunks of 1 MiB: the 64-chunk slab fits.
        let (_, bytes) = chunk_cache(&layout([16, 2048, 2048], [8, 256, 256]));
        assert_eq!(bytes, 65 * MIB);
        // 4096 x 4096, 16 x 128 x 128 chunks of 512 KiB: the slab (512 MiB) does not; two
        // rows of 32 chunks do.
        let (_, bytes) = chunk_cache(&layout([32, 4096, 4096], [16, 128, 128]));
        assert_eq!(bytes, 64 * MIB / 2 + MIB / 2);
    }
}
