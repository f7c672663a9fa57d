//! Where an Imaris file keeps its pixels, checked before any pixel is read: every
//! `TimePoint t/Channel c/Data` of resolution level 0 must exist, be 3-D (Z, Y, X), share one
//! element type and be at least the image size (Imaris pads stored arrays to whole chunks;
//! `ImageSizeZ/Y/X` say how much of them is the image).

use std::path::Path;

use hdf5::dataset::Layout as Storage;
use hdf5::types::{FloatSize, IntSize, TypeDescriptor};
use hdf5::{Dataset, File, Group, Location};
use scopeflow_core::DType;

use super::attrs;
use crate::FormatError;

/// Far more time points or channels than any acquisition; stops a loop over a hostile file.
const MAX_INDEX: usize = 1_000_000;
/// Largest Z, Y or X accepted, and largest plane (pixels): beyond them callers could not
/// allocate a band, so the file is refused at open instead.
const MAX_DIM: u64 = 1 << 24;
const MAX_PLANE: u64 = 1 << 34;

/// The checked layout of resolution level 0.
pub(super) struct Layout {
    /// Path of `DataSet/ResolutionLevel 0` (the directory name comes from the file).
    pub level0: String,
    /// Path of `DataSetInfo`, or `None` when the file has none (minimal writers).
    pub info: Option<String>,
    pub times: usize,
    pub channels: usize,
    /// Image size Z, Y, X (the stored arrays may be larger).
    pub size: [usize; 3],
    /// Stored array shape of `TimePoint 0/Channel 0/Data`.
    pub stored: Vec<usize>,
    pub dtype: DType,
    /// Chunk shape (Z, Y, X) when the data is chunked.
    pub chunk: Option<Vec<usize>>,
    /// Filter names of the data (`deflate`, `shuffle`, …), for the metadata summary.
    pub filters: Vec<String>,
    pub resolution_levels: usize,
}

impl Layout {
    pub fn data_path(&self, t: usize, c: usize) -> String {
        format!("{}/TimePoint {t}/Channel {c}/Data", self.level0)
    }
}

/// The refusal for an HDF5 file without the Imaris groups.
pub(super) fn not_imaris(path: &Path, why: impl std::fmt::Display) -> FormatError {
    FormatError::UnsupportedFormat {
        path: path.to_path_buf(),
        what: format!("HDF5 file that is not an Imaris file: {why}"),
    }
}

pub(super) fn h5_error(path: &Path, what: &str, e: &hdf5::Error) -> FormatError {
    FormatError::corrupt(path, format!("{what}: {e}"))
}

/// A group name from a root attribute (`DataSetDirectoryName`), or the default when the
/// attribute is absent or is not a plain name.
fn directory(file: &File, attr: &str, default: &str) -> String {
    match attrs::text(file, attr) {
        Some(name) if !name.is_empty() && !name.contains('/') && name != "." => name,
        _ => default.to_owned(),
    }
}

fn child_group(parent: &Group, name: &str) -> Option<Group> {
    if parent.link_exists(name) {
        parent.group(name).ok()
    } else {
        None
    }
}

/// Number of consecutive members `"{prefix} 0"`, `"{prefix} 1"`, … of `group`.
fn count(group: &Group, prefix: &str) -> usize {
    let mut n = 0;
    while n < MAX_INDEX && group.link_exists(&format!("{prefix} {n}")) {
        n += 1;
    }
    n
}

fn members(group: &Group) -> String {
    let names = group.member_names().unwrap_or_default();
    if names.is_empty() {
        return "nothing".into();
    }
    let mut shown: Vec<String> = names.iter().take(8).map(|n| format!("`{n}`")).collect();
    if names.len() > 8 {
        shown.push(format!("… ({} in all)", names.len()));
    }
    shown.join(", ")
}

/// Reads and checks the layout of `file`.
pub(super) fn read(file: &File, path: &Path) -> Result<Layout, FormatError> {
    let ds_dir = directory(file, "DataSetDirectoryName", "DataSet");
    let info_dir = directory(file, "DataSetInfoDirectoryName", "DataSetInfo");
    let level0_path = format!("{ds_dir}/ResolutionLevel 0");
    let dataset = child_group(file, &ds_dir);
    let Some(level0) = dataset
        .as_ref()
        .and_then(|g| child_group(g, "ResolutionLevel 0"))
    else {
        return Err(not_imaris(
            path,
            format!(
                "no `{level0_path}` group (the top level holds {})",
                members(file)
            ),
        ));
    };
    let resolution_levels = dataset.as_ref().map_or(1, |g| count(g, "ResolutionLevel"));
    let times = count(&level0, "TimePoint");
    let tp0 = child_group(&level0, "TimePoint 0")
        .ok_or_else(|| not_imaris(path, format!("no `{level0_path}/TimePoint 0` group")))?;
    let channels = count(&tp0, "Channel");
    let ch0 = child_group(&tp0, "Channel 0").ok_or_else(|| {
        not_imaris(
            path,
            format!("no `{level0_path}/TimePoint 0/Channel 0` group"),
        )
    })?;
    if !ch0.link_exists("Data") {
        return Err(not_imaris(
            path,
            format!("no `{level0_path}/TimePoint 0/Channel 0/Data` dataset"),
        ));
    }
    let data0_path = format!("{level0_path}/TimePoint 0/Channel 0/Data");
    let data0 = ch0
        .dataset("Data")
        .map_err(|e| h5_error(path, &data0_path, &e))?;
    let dtype = element_type(&data0, path, &data0_path)?;
    let stored = data0.shape();
    if stored.len() != 3 {
        return Err(FormatError::corrupt(
            path,
            format!(
                "{data0_path} has {} dimensions, not 3 (Z, Y, X)",
                stored.len()
            ),
        ));
    }
    check_storage(&data0, &stored, dtype, path, &data0_path)?;
    let info = child_group(file, &info_dir).map(|_| info_dir.clone());
    let image = info
        .as_ref()
        .and_then(|_| file.group(&format!("{info_dir}/Image")).ok());
    let size = image_size(&ch0, image.as_deref(), &stored, path, &data0_path)?;
    let filters = check_filters(&data0, path, &data0_path)?;
    let layout = Layout {
        level0: level0_path,
        info,
        times,
        channels,
        size,
        stored,
        dtype,
        chunk: data0.chunk(),
        filters,
        resolution_levels,
    };
    for t in 0..times {
        for c in 0..channels {
            if (t, c) != (0, 0) {
                check_data(file, &layout, t, c, path)?;
            }
        }
    }
    Ok(layout)
}

/// Z, Y, X from the channel group's `ImageSize*`, else `DataSetInfo/Image` `Z/Y/X`, else
/// the stored shape; never larger than the stored array.
fn image_size(
    channel: &Location,
    image: Option<&Location>,
    stored: &[usize],
    path: &Path,
    what: &str,
) -> Result<[usize; 3], FormatError> {
    let mut size = [0usize; 3];
    for (i, (own, info)) in [
        ("ImageSizeZ", "Z"),
        ("ImageSizeY", "Y"),
        ("ImageSizeX", "X"),
    ]
    .into_iter()
    .enumerate()
    {
        let stored_n = stored.get(i).copied().unwrap_or(0) as u64;
        let n = attrs::integer(channel, own)
            .or_else(|| image.and_then(|g| attrs::integer(g, info)))
            .unwrap_or(stored_n);
        if n == 0 || n > MAX_DIM {
            return Err(FormatError::metadata(
                path,
                format!("{what}: image size {own} = {n} is out of range (1 to {MAX_DIM})"),
            ));
        }
        if n > stored_n {
            return Err(FormatError::corrupt(
                path,
                format!("{what}: {own} = {n} but the stored array holds only {stored_n}"),
            ));
        }
        size[i] = n as usize;
    }
    if (size[1] as u64) * (size[2] as u64) > MAX_PLANE {
        return Err(FormatError::metadata(
            path,
            format!("{what}: a {}x{} plane is too large", size[2], size[1]),
        ));
    }
    Ok(size)
}

fn element_type(data: &Dataset, path: &Path, what: &str) -> Result<DType, FormatError> {
    let desc = data
        .dtype()
        .and_then(|t| t.to_descriptor())
        .map_err(|e| h5_error(path, &format!("{what}: element type"), &e))?;
    Ok(match desc {
        TypeDescriptor::Unsigned(IntSize::U1) => DType::U8,
        TypeDescriptor::Unsigned(IntSize::U2) => DType::U16,
        TypeDescriptor::Unsigned(IntSize::U4) => DType::U32,
        TypeDescriptor::Integer(IntSize::U1) => DType::I8,
        TypeDescriptor::Integer(IntSize::U2) => DType::I16,
        TypeDescriptor::Integer(IntSize::U4) => DType::I32,
        TypeDescriptor::Float(FloatSize::U4) => DType::F32,
        TypeDescriptor::Float(FloatSize::U8) => DType::F64,
        other => {
            return Err(FormatError::unsupported(
                path,
                format!("{what}: pixel type {other}"),
            ));
        }
    })
}

/// Largest chunk accepted (HDF5's own limit is 4 GiB; Imaris chunks are a few MB at most).
const MAX_CHUNK_BYTES: u64 = 1 << 30;

/// Checks the storage description HDF5 would otherwise trust: HDF5 1.10 reads out of bounds
/// (and crashes) on chunk shapes larger than a fixed-size array and on some compact layouts,
/// and a virtual dataset would read other files. Imaris writes none of these.
fn check_storage(
    data: &Dataset,
    stored: &[usize],
    dtype: DType,
    path: &Path,
    what: &str,
) -> Result<(), FormatError> {
    match data.layout() {
        Storage::Chunked => {
            let chunk = data.chunk().unwrap_or_default();
            let bytes = chunk
                .iter()
                .fold(dtype.size() as u64, |acc, &n| acc.saturating_mul(n as u64));
            let fixed = !data.is_resizable();
            let fits = chunk.len() == stored.len()
                && chunk
                    .iter()
                    .zip(stored)
                    .all(|(&c, &n)| c >= 1 && (!fixed || c <= n));
            if !fits || bytes > MAX_CHUNK_BYTES {
                return Err(FormatError::corrupt(
                    path,
                    format!("{what}: chunk shape {chunk:?} does not fit the array {stored:?}"),
                ));
            }
        }
        Storage::Contiguous => {}
        other => {
            return Err(FormatError::unsupported(
                path,
                format!("{what}: {other:?} storage (Imaris writes chunked or contiguous data)"),
            ));
        }
    }
    Ok(())
}

/// Refuses data whose compression filter this HDF5 library cannot decode, up front and
/// with the remedy, instead of failing on the first pixel read.
fn check_filters(data: &Dataset, path: &Path, what: &str) -> Result<Vec<String>, FormatError> {
    let mut names = Vec::new();
    for filter in data.filters() {
        let id = filter.id();
        let name = match id {
            1 => "deflate".to_owned(),
            2 => "shuffle".to_owned(),
            3 => "fletcher32".to_owned(),
            4 => "szip".to_owned(),
            5 => "nbit".to_owned(),
            6 => "scaleoffset".to_owned(),
            32000 => "lzf".to_owned(),
            32001 => "blosc".to_owned(),
            32004 => "lz4".to_owned(),
            32008 => "bitshuffle".to_owned(),
            other => format!("filter {other}"),
        };
        if !filter.is_available() {
            return Err(FormatError::unsupported(
                path,
                format!(
                    "{what}: compression `{name}` (HDF5 filter {id}) is not available to this \
                     HDF5 library (install the HDF5 filter plugins: Debian's \
                     hdf5-filter-plugin, or point HDF5_PLUGIN_PATH at them)"
                ),
            ));
        }
        names.push(name);
    }
    Ok(names)
}

/// Checks that `TimePoint t/Channel c/Data` matches channel 0 of time point 0.
fn check_data(
    file: &File,
    layout: &Layout,
    t: usize,
    c: usize,
    path: &Path,
) -> Result<(), FormatError> {
    let what = layout.data_path(t, c);
    if !file.link_exists(&what) {
        return Err(FormatError::corrupt(
            path,
            format!(
                "{what} is missing ({} time points of {} channels expected)",
                layout.times, layout.channels
            ),
        ));
    }
    let data = file.dataset(&what).map_err(|e| h5_error(path, &what, &e))?;
    let dtype = element_type(&data, path, &what)?;
    if dtype != layout.dtype {
        return Err(FormatError::unsupported(
            path,
            format!(
                "{what} holds {} pixels, channel 0 of time point 0 {}",
                dtype.name(),
                layout.dtype.name()
            ),
        ));
    }
    let stored = data.shape();
    let channel = file
        .group(&format!("{}/TimePoint {t}/Channel {c}", layout.level0))
        .map_err(|e| h5_error(path, &what, &e))?;
    if stored.len() != 3 {
        return Err(FormatError::corrupt(
            path,
            format!("{what} has {} dimensions, not 3 (Z, Y, X)", stored.len()),
        ));
    }
    check_storage(&data, &stored, dtype, path, &what)?;
    let size = image_size(&channel, None, &stored, path, &what)?;
    // A channel without its own ImageSize attributes takes the stored shape above; it only
    // has to hold the image.
    let own = attrs::integer(&channel, "ImageSizeX").is_some();
    if (own && size != layout.size) || stored.iter().zip(layout.size).any(|(&s, n)| s < n) {
        return Err(FormatError::unsupported(
            path,
            format!(
                "{what} is {}x{}x{} (ZxYxX), time point 0 channel 0 is {}x{}x{}: images of \
                 different sizes in one file",
                size[0], size[1], size[2], layout.size[0], layout.size[1], layout.size[2]
            ),
        ));
    }
    Ok(())
}
