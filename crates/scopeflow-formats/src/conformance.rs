//! Checks every [`ImageSource`] must pass, whatever its format: bands read in any height,
//! through one reader or fresh ones, concatenate to the whole plane.

use crate::{ImageSource, plane_count, plane_index};

/// Compares band reads of the first and last plane against one whole-plane read.
///
/// # Errors
/// Describes the first band that differs, or the read error.
pub fn bands_concatenate_to_plane(src: &dyn ImageSource) -> Result<(), String> {
    let meta = src.meta();
    let row = meta.width() * meta.samples() * meta.dtype.size();
    let h = meta.height();
    let n = plane_count(meta);
    for p in [0, n - 1] {
        let plane = plane_index(meta, p);
        let mut whole = vec![0u8; h * row];
        src.read_rows(&plane, 0, h, &mut whole)
            .map_err(|e| e.to_string())?;
        for band in [1, 7, src.natural_rows(), 64.min(h)] {
            let mut reader = src.plane_reader(&plane).map_err(|e| e.to_string())?;
            let mut y = 0;
            while y < h {
                let end = (y + band).min(h);
                let mut buf = vec![0u8; (end - y) * row];
                reader
                    .read_rows(y, end, &mut buf)
                    .map_err(|e| e.to_string())?;
                if buf[..] != whole[y * row..end * row] {
                    return Err(format!(
                        "plane {p}: band {y}..{end} (height {band}) differs from the whole-plane read"
                    ));
                }
                let mut fresh = vec![0u8; (end - y) * row];
                src.read_rows(&plane, y, end, &mut fresh)
                    .map_err(|e| e.to_string())?;
                if fresh != buf {
                    return Err(format!(
                        "plane {p}: band {y}..{end} differs between a fresh and a reused reader"
                    ));
                }
                y = end;
            }
        }
    }
    Ok(())
}
