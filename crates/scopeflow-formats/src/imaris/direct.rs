//! Chunks read past HDF5's filter pipeline, for the storage Imaris writes (deflate, with or
//! without byte shuffle, little-endian pixels).
//!
//! The C library is not thread-safe and the `hdf5` crate serialises every call: left to HDF5,
//! one core inflates for the whole conversion (a 1 GiB file: 5 s of its 8). Here HDF5 only
//! says where a chunk lies (a B-tree lookup, under its lock); the compressed bytes are read
//! with our own read-only handle and inflated on the calling thread, in parallel with the
//! other planes' threads. A chunk spans several planes (8 or 16 deep), so inflated chunks are
//! kept until every plane of their depth has read them to their last row (then dropped at
//! once), and in any case within a byte budget, least recently used out first: without the
//! first rule, a thread moving on to its next slab of chunks evicted the slab another thread
//! was still reading. Anything unusual (a chunk never written, a filter skipped for one chunk)
//! falls back to HDF5 for that band.

use std::collections::{HashMap, VecDeque};
use std::path::Path;
use std::sync::{Arc, Mutex};

use hdf5::Dataset;
use hdf5::datatype::ByteOrder;

use crate::FormatError;

/// Which chunk: time point, channel, and chunk indices along Z, Y, X.
type Key = (usize, usize, [usize; 3]);

/// Where a stored chunk lies in the file; `None` when HDF5 must read it (never written, or
/// written with a filter skipped).
struct Stored {
    addr: u64,
    size: u64,
}

pub(super) struct Direct {
    file: std::fs::File,
    shuffle: bool,
    chunk: [usize; 3],
    /// Image size Z, Y, X (the stored arrays may be larger).
    image: [usize; 3],
    elem: usize,
    chunk_bytes: usize,
    cache: Mutex<Cache>,
}

/// An inflated chunk and the planes (bit = Z offset in the chunk) that read it to the end.
struct Entry {
    data: Arc<Vec<u8>>,
    done: u64,
}

struct Cache {
    chunks: HashMap<Key, Entry>,
    order: VecDeque<Key>,
    bytes: usize,
    limit: usize,
}

/// Whether byte shuffle comes before deflate, for the pipelines read directly (deflate
/// alone, or shuffle then deflate) of little-endian chunked 3-D data; `None` for any other.
fn direct_storage(data: &Dataset) -> Option<(bool, [usize; 3])> {
    let ids: Vec<_> = data.filters().iter().map(|f| f.id()).collect();
    // HDF5 filter ids: 1 deflate, 2 shuffle.
    let shuffle = match ids[..] {
        [1] => false,
        [2, 1] => true,
        _ => return None,
    };
    let little = data
        .dtype()
        .is_ok_and(|t| matches!(t.byte_order(), ByteOrder::LittleEndian | ByteOrder::None));
    let chunk: [usize; 3] = data.chunk()?.try_into().ok()?;
    little.then_some((shuffle, chunk))
}

impl Direct {
    /// Set up from channel 0 of time point 0; `None` when the data is not stored the way
    /// this reads it (then HDF5 reads everything).
    pub(super) fn new(
        path: &Path,
        data0: &Dataset,
        image: [usize; 3],
        elem: usize,
        cache_bytes: usize,
    ) -> Option<Direct> {
        let (shuffle, chunk) = direct_storage(data0)?;
        let chunk_bytes = chunk.iter().try_fold(elem, |a, &n| a.checked_mul(n))?;
        let file = std::fs::File::open(path).ok()?;
        Some(Direct {
            file,
            shuffle,
            chunk,
            image,
            elem,
            chunk_bytes,
            cache: Mutex::new(Cache {
                chunks: HashMap::new(),
                order: VecDeque::new(),
                bytes: 0,
                limit: cache_bytes.max(chunk_bytes),
            }),
        })
    }

    /// Whether another dataset is stored as channel 0 of time point 0 is.
    pub(super) fn fits(&self, data: &Dataset) -> bool {
        direct_storage(data) == Some((self.shuffle, self.chunk))
    }

    /// Rows `y0..y1` of plane `z` (all `nx` columns) into `out`, little-endian; `Ok(false)`
    /// when a chunk they need must be read by HDF5 instead.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn rows(
        &self,
        path: &Path,
        data: &Dataset,
        tc: (usize, usize),
        z: usize,
        (y0, y1): (usize, usize),
        nx: usize,
        out: &mut [u8],
    ) -> Result<bool, FormatError> {
        let [dz, dy, dx] = self.chunk;
        let e = self.elem;
        let cz = z / dz;
        let mut y = y0;
        while y < y1 {
            let cy = y / dy;
            let rows_end = ((cy + 1) * dy).min(y1);
            for cx in 0..nx.div_ceil(dx) {
                let Some(chunk) = self.chunk(path, data, (tc.0, tc.1, [cz, cy, cx]))? else {
                    return Ok(false);
                };
                let (x0, x1) = (cx * dx, ((cx + 1) * dx).min(nx));
                for yy in y..rows_end {
                    let from = (((z - cz * dz) * dy + (yy - cy * dy)) * dx) * e;
                    let to = ((yy - y0) * nx + x0) * e;
                    out[to..to + (x1 - x0) * e].copy_from_slice(&chunk[from..from + (x1 - x0) * e]);
                }
                if rows_end == ((cy + 1) * dy).min(self.image[1]) {
                    self.read_through((tc.0, tc.1, [cz, cy, cx]), z - cz * dz);
                }
            }
            y = rows_end;
        }
        Ok(true)
    }

    /// Plane `dz` of the chunk read it to its last row: once every plane of the chunk's depth
    /// has, nobody needs it any more.
    fn read_through(&self, key: Key, dz: usize) {
        let depth = self.chunk[0].min(self.image[0].saturating_sub(key.2[0] * self.chunk[0]));
        if depth == 0 || depth > 63 {
            return;
        }
        let mut cache = self.cache.lock().unwrap_or_else(|e| e.into_inner());
        let Some(entry) = cache.chunks.get_mut(&key) else {
            return;
        };
        entry.done |= 1 << dz;
        if entry.done == (1u64 << depth) - 1 {
            let len = entry.data.len();
            cache.chunks.remove(&key);
            if let Some(i) = cache.order.iter().position(|k| *k == key) {
                cache.order.remove(i);
            }
            cache.bytes -= len;
        }
    }

    /// An inflated chunk, from the cache or read now; `None` when HDF5 must read it.
    fn chunk(
        &self,
        path: &Path,
        data: &Dataset,
        key: Key,
    ) -> Result<Option<Arc<Vec<u8>>>, FormatError> {
        {
            let mut cache = self.cache.lock().unwrap_or_else(|e| e.into_inner());
            if let Some(hit) = cache.chunks.get(&key).map(|e| e.data.clone()) {
                if let Some(i) = cache.order.iter().position(|k| *k == key) {
                    cache.order.remove(i);
                }
                cache.order.push_back(key);
                return Ok(Some(hit));
            }
        }
        let Some(stored) = locate(data, key.2, self.chunk) else {
            return Ok(None);
        };
        let what = |why: String| {
            FormatError::corrupt(
                path,
                format!(
                    "{}: chunk at Z/Y/X {:?} (file offset {}): {why}",
                    data.name(),
                    key.2,
                    stored.addr
                ),
            )
        };
        // Deflate cannot expand data by more than a few bytes per 16 KiB block.
        if stored.size > (self.chunk_bytes as u64).saturating_mul(2) + 4096 {
            return Err(what(format!(
                "{} compressed bytes for {} bytes of pixels",
                stored.size, self.chunk_bytes
            )));
        }
        let mut packed = vec![0u8; stored.size as usize];
        read_at(&self.file, &mut packed, stored.addr).map_err(|e| what(e.to_string()))?;
        let inflated = self.inflate(&packed).map_err(what)?;
        let inflated = Arc::new(inflated);
        let mut cache = self.cache.lock().unwrap_or_else(|e| e.into_inner());
        let c = &mut *cache;
        if let std::collections::hash_map::Entry::Vacant(slot) = c.chunks.entry(key) {
            slot.insert(Entry {
                data: inflated.clone(),
                done: 0,
            });
            c.order.push_back(key);
            c.bytes += inflated.len();
        }
        while cache.bytes > cache.limit {
            let Some(old) = cache.order.pop_front() else {
                break;
            };
            if let Some(v) = cache.chunks.remove(&old) {
                cache.bytes -= v.data.len();
            }
        }
        Ok(Some(inflated))
    }

    fn inflate(&self, packed: &[u8]) -> Result<Vec<u8>, String> {
        let mut out = Vec::with_capacity(self.chunk_bytes);
        let mut z = flate2::Decompress::new(true);
        let status = z
            .decompress_vec(packed, &mut out, flate2::FlushDecompress::Finish)
            .map_err(|e| format!("deflate: {e}"))?;
        if status != flate2::Status::StreamEnd || out.len() != self.chunk_bytes {
            return Err(format!(
                "inflates to {}{} bytes, a chunk holds {}",
                out.len(),
                if status == flate2::Status::StreamEnd {
                    ""
                } else {
                    " or more"
                },
                self.chunk_bytes
            ));
        }
        if !self.shuffle || self.elem == 1 {
            return Ok(out);
        }
        // HDF5's shuffle stores byte k of every element together, k = 0, 1, …
        let (n, e) = (self.chunk_bytes / self.elem, self.elem);
        let mut plain = vec![0u8; self.chunk_bytes];
        for (k, bytes) in out.chunks_exact(n).enumerate() {
            for (i, &b) in bytes.iter().enumerate() {
                plain[i * e + k] = b;
            }
        }
        Ok(plain)
    }
}

/// Where the chunk with these indices is stored, asked of HDF5 under the crate's lock.
#[allow(unsafe_code, reason = "one C call the hdf5 crate does not wrap")]
fn locate(data: &Dataset, index: [usize; 3], chunk: [usize; 3]) -> Option<Stored> {
    use hdf5_sys::h5::{HADDR_UNDEF, haddr_t, hsize_t};
    let offset: [hsize_t; 3] = std::array::from_fn(|i| (index[i] * chunk[i]) as hsize_t);
    let (mut mask, mut addr, mut size): (std::ffi::c_uint, haddr_t, hsize_t) = (0, 0, 0);
    let id = data.id();
    // SAFETY: `id` is an open dataset kept alive by `data`; the pointers are to locals of the
    // right types and `offset` has one entry per dimension of the 3-D dataset. HDF5 is not
    // thread-safe: `hdf5::sync::sync` holds the lock the crate takes around its own calls.
    let status = hdf5::sync::sync(|| unsafe {
        hdf5_sys::h5d::H5Dget_chunk_info_by_coord(
            id,
            offset.as_ptr(),
            &mut mask,
            &mut addr,
            &mut size,
        )
    });
    (status >= 0 && mask == 0 && addr != HADDR_UNDEF && size > 0).then_some(Stored { addr, size })
}

#[cfg(unix)]
fn read_at(file: &std::fs::File, buf: &mut [u8], at: u64) -> std::io::Result<()> {
    std::os::unix::fs::FileExt::read_exact_at(file, buf, at)
}

#[cfg(windows)]
fn read_at(file: &std::fs::File, mut buf: &mut [u8], mut at: u64) -> std::io::Result<()> {
    use std::os::windows::fs::FileExt;
    while !buf.is_empty() {
        match file.seek_read(buf, at)? {
            0 => return Err(std::io::ErrorKind::UnexpectedEof.into()),
            n => {
                buf = &mut buf[n..];
                at += n as u64;
            }
        }
    }
    Ok(())
}
