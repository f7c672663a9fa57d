//! Chunks read past HDF5's filter pipeline, for the storage Imaris writes (deflate, with or
//! without byte shuffle, little-endian pixels).
//!
//! The C library is not thread-safe and the `hdf5` crate serialises every call: left to HDF5,
//! one core inflates for the whole conversion (a 1 GiB file: 5 s of its 8). Here HDF5 only
//! says where a chunk lies (under its lock; HDF5 1.10 scans the dataset's chunk index for it,
//! so datasets of very many small chunks are left to HDF5); the compressed bytes are read
//! with our own read-only handle and inflated on the calling thread, in parallel with the
//! other planes' threads. A chunk spans several planes (8 or 16 deep), so inflated chunks are
//! kept until every plane of their depth has read them to their last row (then dropped at
//! once), and in any case within a byte budget, least recently used out first: without the
//! first rule, a thread moving on to its next slab of chunks evicted the slab another thread
//! was still reading. Anything unusual (a chunk never written, a filter skipped for one chunk)
//! falls back to HDF5 for that band.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::sync::{Arc, Mutex};

use hdf5::datatype::ByteOrder;
use hdf5::plist::DatasetCreate;
use hdf5::plist::dataset_create::ChunkOpts;
use hdf5::{Dataset, Datatype};

use crate::FormatError;

/// Which chunk: time point, channel, and chunk indices along Z, Y, X.
type Key = (usize, usize, [usize; 3]);

/// Bytes charged to the budget for each cached chunk besides its pixels (map entries, the
/// `Arc`, the allocation): without it, chunks of a few bytes held many times the budget.
const ENTRY_COST: usize = 256;

/// Where a stored chunk lies in the file; `None` when HDF5 must read it (never written, or
/// written with a filter skipped).
struct Stored {
    addr: u64,
    size: u64,
}

pub(super) struct Direct {
    file: std::fs::File,
    /// Length of `file`: chunk addresses come from the file and may lie past its end.
    file_len: u64,
    storage: Storage,
    /// Image size Z, Y, X (the stored arrays may be larger).
    image: [usize; 3],
    cache: Mutex<Cache>,
}

/// How a dataset's chunks are stored, as far as reading them directly depends on it: two
/// datasets that agree on all of it are read the same way.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Storage {
    shuffle: bool,
    chunk: [usize; 3],
    /// Bytes of a pixel.
    elem: usize,
    /// Bytes of a whole inflated chunk.
    chunk_bytes: usize,
}

/// An inflated chunk, the planes (bit = Z offset in the chunk) that read it to the end, and
/// when it was last used (its key in [`Cache::order`]).
struct Entry {
    data: Arc<Vec<u8>>,
    done: u64,
    used: u64,
}

/// Inflated chunks within a byte budget, least recently used out first. The use order is
/// a map from a use counter, so that a hit or a drop costs a logarithm, not a scan of every
/// cached chunk.
struct Cache {
    chunks: HashMap<Key, Entry>,
    order: BTreeMap<u64, Key>,
    uses: u64,
    /// Bytes charged: pixels plus [`ENTRY_COST`] per chunk.
    bytes: usize,
    limit: usize,
}

impl Cache {
    fn new(limit: usize) -> Cache {
        Cache {
            chunks: HashMap::new(),
            order: BTreeMap::new(),
            uses: 0,
            bytes: 0,
            limit,
        }
    }

    /// A cached chunk, now the most recently used.
    fn get(&mut self, key: Key) -> Option<Arc<Vec<u8>>> {
        self.uses += 1;
        let entry = self.chunks.get_mut(&key)?;
        self.order.remove(&entry.used);
        entry.used = self.uses;
        self.order.insert(self.uses, key);
        Some(entry.data.clone())
    }

    /// Caches `data` (unless another thread did first), then drops the least recently used
    /// chunks beyond the budget.
    fn insert(&mut self, key: Key, data: &Arc<Vec<u8>>) {
        self.uses += 1;
        if let std::collections::hash_map::Entry::Vacant(slot) = self.chunks.entry(key) {
            slot.insert(Entry {
                data: data.clone(),
                done: 0,
                used: self.uses,
            });
            self.order.insert(self.uses, key);
            self.bytes += data.len() + ENTRY_COST;
        }
        while self.bytes > self.limit {
            let Some((_, old)) = self.order.pop_first() else {
                break;
            };
            self.remove(old);
        }
    }

    fn remove(&mut self, key: Key) {
        if let Some(entry) = self.chunks.remove(&key) {
            self.order.remove(&entry.used);
            self.bytes -= entry.data.len() + ENTRY_COST;
        }
    }

    /// Plane `dz` of a chunk `depth` planes deep read it to its last row: once every plane
    /// has, nobody needs it any more.
    fn read_through(&mut self, key: Key, dz: usize, depth: usize) {
        let Some(entry) = self.chunks.get_mut(&key) else {
            return;
        };
        entry.done |= 1 << dz;
        if entry.done == (1u64 << depth) - 1 {
            self.remove(key);
        }
    }
}

/// Whether byte shuffle comes before deflate, for the pipelines read directly (deflate
/// alone, or shuffle by the pixel size then deflate) of chunked 3-D data whose stored bytes
/// are the pixels (little-endian, every bit used); `None` for any other.
///
/// Also `None` for many small chunks: H5Dget_chunk_info_by_coord finds a chunk by scanning
/// the dataset's whole chunk index (about 10 ns a chunk), against about 2 ns a byte to
/// inflate one. Beyond a chunk per 16 bytes of chunk, reading every chunk costs more in
/// scans than parallel inflating saves (two 256 × 256 planes of 1-pixel-wide chunks took
/// 40 s), and HDF5's own B-tree lookup reads the dataset.
fn direct_storage(data: &Dataset) -> Option<Storage> {
    let dcpl = data.dcpl().ok()?;
    // Partial edge chunks stored unfiltered look like any other chunk to H5Dget_chunk_info.
    if dcpl
        .chunk_opts()
        .is_some_and(|o| o.contains(ChunkOpts::DONT_FILTER_PARTIAL_CHUNKS))
    {
        return None;
    }
    let dtype = data.dtype().ok()?;
    // HDF5 converts types of fewer bits (precision, offset) or the other byte order on
    // reading; only the native little-endian type stores the pixels as they are read.
    let native = Datatype::from_descriptor(&dtype.to_descriptor().ok()?).ok()?;
    let little = matches!(
        dtype.byte_order(),
        ByteOrder::LittleEndian | ByteOrder::None
    );
    if dtype != native || !little {
        return None;
    }
    // HDF5 filter ids: 1 deflate, 2 shuffle. The shuffle's element size is its own parameter,
    // from the file: HDF5 unshuffles by it, whatever the pixel size.
    let elem = [std::ffi::c_uint::try_from(dtype.size()).ok()?];
    let shuffle = match &pipeline(&dcpl)?[..] {
        [(1, _)] => false,
        [(2, size), (1, _)] if size[..] == elem => true,
        _ => return None,
    };
    let chunk: [usize; 3] = data.chunk()?.try_into().ok()?;
    let chunks = data
        .shape()
        .iter()
        .zip(chunk)
        .try_fold(1usize, |n, (&len, c)| n.checked_mul(len.div_ceil(c.max(1))))?;
    let chunk_bytes = chunk
        .iter()
        .try_fold(dtype.size(), |a, &n| a.checked_mul(n))?;
    (chunks <= (chunk_bytes / 16).max(1024)).then_some(Storage {
        shuffle,
        chunk,
        elem: dtype.size(),
        chunk_bytes,
    })
}

/// The filters of a dataset with their parameters (`Dataset::filters` drops the shuffle's).
#[allow(
    unsafe_code,
    reason = "the hdf5 crate does not return the shuffle's parameter"
)]
fn pipeline(dcpl: &DatasetCreate) -> Option<Vec<(i32, Vec<std::ffi::c_uint>)>> {
    use hdf5_sys::h5p::{H5Pget_filter2, H5Pget_nfilters};
    let id = dcpl.id();
    // SAFETY: `id` is a property list kept open by `dcpl`; every pointer is to a local buffer
    // of the length passed with it (HDF5 writes at most that many parameters). The crate's
    // lock is held, as for its own calls.
    hdf5::sync::sync(|| unsafe {
        let n = u32::try_from(H5Pget_nfilters(id)).ok()?;
        (0..n)
            .map(|i| {
                let mut values = [0; 8];
                let mut name = [0; 64];
                let (mut flags, mut count) = (0, values.len());
                let filter = H5Pget_filter2(
                    id,
                    i,
                    &mut flags,
                    &mut count,
                    values.as_mut_ptr(),
                    name.len(),
                    name.as_mut_ptr(),
                    std::ptr::null_mut(),
                );
                (filter >= 0).then(|| (filter, values[..count.min(values.len())].to_vec()))
            })
            .collect()
    })
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
        let storage = direct_storage(data0)?;
        // Rows are cut from chunks by the reader's pixel size: it must be the dataset's.
        if storage.elem != elem {
            return None;
        }
        let file = std::fs::File::open(path).ok()?;
        let file_len = file.metadata().ok()?.len();
        Some(Direct {
            file,
            file_len,
            storage,
            image,
            cache: Mutex::new(Cache::new(
                cache_bytes.max(storage.chunk_bytes + ENTRY_COST),
            )),
        })
    }

    /// Whether another dataset is stored as channel 0 of time point 0 is.
    pub(super) fn fits(&self, data: &Dataset) -> bool {
        direct_storage(data) == Some(self.storage)
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
        let [dz, dy, dx] = self.storage.chunk;
        let e = self.storage.elem;
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

    /// Plane `dz` of the chunk read it to its last row.
    fn read_through(&self, key: Key, dz: usize) {
        let chunk = self.storage.chunk;
        let depth = chunk[0].min(self.image[0].saturating_sub(key.2[0] * chunk[0]));
        if depth == 0 || depth > 63 {
            return;
        }
        let mut cache = self.cache.lock().unwrap_or_else(|e| e.into_inner());
        cache.read_through(key, dz, depth);
    }

    /// An inflated chunk, from the cache or read now; `None` when HDF5 must read it.
    fn chunk(
        &self,
        path: &Path,
        data: &Dataset,
        key: Key,
    ) -> Result<Option<Arc<Vec<u8>>>, FormatError> {
        let hit = self
            .cache
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(key);
        if hit.is_some() {
            return Ok(hit);
        }
        let Some(stored) = locate(data, key.2, self.storage.chunk) else {
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
        if stored.size > (self.storage.chunk_bytes as u64).saturating_mul(2) + 4096 {
            return Err(what(format!(
                "{} compressed bytes for {} bytes of pixels",
                stored.size, self.storage.chunk_bytes
            )));
        }
        // Checked before allocating: the address and size are the file's word.
        if stored
            .addr
            .checked_add(stored.size)
            .is_none_or(|end| end > self.file_len)
        {
            return Err(what(format!(
                "its {} bytes lie past the end of the file ({} bytes): the file is truncated",
                stored.size, self.file_len
            )));
        }
        let mut packed = vec![0u8; stored.size as usize];
        read_at(&self.file, &mut packed, stored.addr).map_err(|e| what(e.to_string()))?;
        let inflated = inflate(
            &packed,
            self.storage.chunk_bytes,
            self.storage.shuffle.then_some(self.storage.elem),
        )
        .map_err(what)?;
        let inflated = Arc::new(inflated);
        let mut cache = self.cache.lock().unwrap_or_else(|e| e.into_inner());
        cache.insert(key, &inflated);
        Ok(Some(inflated))
    }
}

/// A chunk's pixels from its zlib stream; `shuffled` is the element size HDF5's shuffle
/// grouped the bytes by, when the chunk was shuffled.
fn inflate(packed: &[u8], chunk_bytes: usize, shuffled: Option<usize>) -> Result<Vec<u8>, String> {
    // libdeflate inflates a whole buffer into a whole buffer, which is the case here (the
    // chunk's size is known). Inflate is what an Imaris conversion costs on top of a TIFF
    // one; against zlib-rs' streaming inflater, a 1 GiB file converts 0.2-0.37 s faster.
    let mut out = vec![0u8; chunk_bytes];
    let n = libdeflater::Decompressor::new()
        .zlib_decompress(packed, &mut out)
        .map_err(|e| match e {
            libdeflater::DecompressionError::InsufficientSpace => {
                format!("inflates to more than the {chunk_bytes} bytes a chunk holds")
            }
            libdeflater::DecompressionError::BadData => {
                "deflate: invalid compressed data".to_owned()
            }
        })?;
    if n != chunk_bytes {
        return Err(format!(
            "inflates to {n} bytes, a chunk holds {chunk_bytes}"
        ));
    }
    let Some(e) = shuffled.filter(|&e| e > 1) else {
        return Ok(out);
    };
    // HDF5's shuffle stores byte k of every element together, k = 0, 1, …
    let n = chunk_bytes / e;
    let mut plain = vec![0u8; chunk_bytes];
    for (k, bytes) in out.chunks_exact(n).enumerate() {
        for (i, &b) in bytes.iter().enumerate() {
            plain[i * e + k] = b;
        }
    }
    Ok(plain)
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

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::{Cache, ENTRY_COST, direct_storage, inflate};

    fn zlib(bytes: &[u8]) -> Vec<u8> {
        use std::io::Write;
        let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::new(1));
        z.write_all(bytes).unwrap();
        z.finish().unwrap()
    }

    /// A chunk inflates to exactly its size; a stream that holds fewer or more bytes, or is
    /// not deflate (a bad checksum included), is an error that says which.
    #[test]
    fn chunks_inflate_to_their_exact_size() {
        let pixels: Vec<u8> = (0..4096u32).map(|i| (i * 7 % 251) as u8).collect();
        let packed = zlib(&pixels);
        assert_eq!(inflate(&packed, 4096, None).unwrap(), pixels);
        let short = inflate(&packed, 4097, None).unwrap_err();
        assert!(
            short.contains("inflates to 4096 bytes, a chunk holds 4097"),
            "{short}"
        );
        let long = inflate(&packed, 4095, None).unwrap_err();
        assert!(long.contains("more than the 4095 bytes"), "{long}");
        let mut bad = packed.clone();
        let last = bad.len() - 1;
        bad[last] ^= 1; // the Adler-32 checksum
        let bad = inflate(&bad, 4096, None).unwrap_err();
        assert!(bad.contains("invalid compressed data"), "{bad}");
        assert!(inflate(b"not deflate", 4096, None).is_err());
    }

    /// Shuffled 16-bit pixels (all low bytes, then all high bytes) come back interleaved.
    #[test]
    fn shuffled_chunks_are_unshuffled() {
        let values: Vec<u16> = (0..1024u16).map(|i| i.wrapping_mul(257) ^ 0x1234).collect();
        let plain: Vec<u8> = values.iter().flat_map(|v| v.to_le_bytes()).collect();
        let shuffled: Vec<u8> = (0..2)
            .flat_map(|k| plain.iter().skip(k).step_by(2).copied().collect::<Vec<_>>())
            .collect();
        assert_eq!(inflate(&zlib(&shuffled), 2048, Some(2)).unwrap(), plain);
        assert_eq!(inflate(&zlib(&plain), 2048, Some(1)).unwrap(), plain);
    }

    /// Chunks worth inflating in parallel are read directly; a dataset of one-pixel-wide
    /// chunks is left to HDF5, since locating each chunk scans every chunk of the dataset
    /// (65,536 of them took 40 s to read chunk by chunk, HDF5 alone about one).
    #[test]
    fn many_tiny_chunks_go_through_hdf5() {
        let dir = tempfile::tempdir().unwrap();
        let file = hdf5::File::create(dir.path().join("chunks.ims")).unwrap();
        let pixels = vec![7u8; 2 * 256 * 256];
        let dataset = |name: &str, chunk: [usize; 3]| {
            let d = file
                .new_dataset::<u8>()
                .shape([2, 256, 256])
                .chunk(chunk)
                .deflate(1)
                .create(name)
                .unwrap();
            d.write_raw(&pixels).unwrap();
            d
        };
        let usual = dataset("usual", [2, 64, 64]);
        let storage = direct_storage(&usual).unwrap();
        assert_eq!((storage.shuffle, storage.chunk), (false, [2, 64, 64]));
        assert_eq!((storage.elem, storage.chunk_bytes), (1, 2 * 64 * 64));
        let tiny = dataset("tiny", [2, 1, 1]);
        assert_eq!(direct_storage(&tiny), None);
    }

    /// One-byte chunks are charged their bookkeeping, the least recently used go first, and
    /// a chunk every plane has read through goes at once.
    #[test]
    fn cache_keeps_its_budget_and_order() {
        let mut cache = Cache::new(3 * (1 + ENTRY_COST));
        let one = Arc::new(vec![0u8]);
        for x in 0..4 {
            cache.insert((0, 0, [0, 0, x]), &one);
        }
        assert_eq!(cache.chunks.len(), 3);
        assert!(cache.get((0, 0, [0, 0, 0])).is_none(), "oldest evicted");
        assert!(cache.get((0, 0, [0, 0, 1])).is_some());
        cache.insert((0, 0, [0, 0, 4]), &one);
        assert!(
            cache.get((0, 0, [0, 0, 2])).is_none(),
            "2 was least recently used"
        );
        assert!(cache.get((0, 0, [0, 0, 1])).is_some());
        cache.read_through((0, 0, [0, 0, 1]), 0, 2);
        assert!(
            cache.get((0, 0, [0, 0, 1])).is_some(),
            "plane 1 still to read"
        );
        cache.read_through((0, 0, [0, 0, 1]), 1, 2);
        assert!(cache.get((0, 0, [0, 0, 1])).is_none());
        assert_eq!(cache.bytes, 2 * (1 + ENTRY_COST));
        assert_eq!(cache.order.len(), cache.chunks.len());
    }
}
