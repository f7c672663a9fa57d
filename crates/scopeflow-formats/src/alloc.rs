//! Buffers whose size a file decides. A header can claim any width or byte count: allocating
//! it with `vec![0; n]` aborts the whole process (the agent included, for every file) when the
//! claim exceeds memory, so every such buffer goes through [`zeroed`], which fails the one file.

use std::path::Path;

use crate::FormatError;

/// A zero-filled buffer of `factors` multiplied together bytes, for `what` (named in the error,
/// e.g. "a band of 64 rows"). An overflowing product or a failed allocation is an error naming
/// the file, never an abort.
///
/// # Errors
/// The size overflows or the memory cannot be allocated.
pub fn zeroed(path: &Path, factors: &[usize], what: &str) -> Result<Vec<u8>, FormatError> {
    let mut buf = Vec::new();
    resize_zeroed(&mut buf, path, factors, what)?;
    Ok(buf)
}

/// An empty buffer with room for `factors` multiplied together bytes, for a caller that fills
/// every byte itself (zero-filling first would write it twice), with the failures of
/// [`zeroed`].
///
/// # Errors
/// As [`zeroed`].
pub fn reserved(path: &Path, factors: &[usize], what: &str) -> Result<Vec<u8>, FormatError> {
    let mut buf = Vec::new();
    let len = checked_len(path, factors, what)?;
    buf.try_reserve_exact(len)
        .map_err(|_| too_large(path, what, len.to_string()))?;
    Ok(buf)
}

/// Grows (or shrinks) `buf` to `factors` multiplied together bytes, zero-filling new ones,
/// with the failures of [`zeroed`].
///
/// # Errors
/// As [`zeroed`].
pub fn resize_zeroed(
    buf: &mut Vec<u8>,
    path: &Path,
    factors: &[usize],
    what: &str,
) -> Result<(), FormatError> {
    let len = checked_len(path, factors, what)?;
    if len > buf.len() {
        buf.try_reserve_exact(len - buf.len())
            .map_err(|_| too_large(path, what, len.to_string()))?;
    }
    buf.resize(len, 0);
    Ok(())
}

fn checked_len(path: &Path, factors: &[usize], what: &str) -> Result<usize, FormatError> {
    factors
        .iter()
        .try_fold(1usize, |acc, &f| acc.checked_mul(f))
        .ok_or_else(|| {
            let product: String = factors
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join(" x ");
            too_large(path, what, product)
        })
}

fn too_large(path: &Path, what: &str, len: String) -> FormatError {
    FormatError::unsupported(
        path,
        format!("{what} needs {len} bytes of memory, more than this machine can give"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn impossible_sizes_are_errors_naming_the_file() {
        let p = Path::new("huge.tif");
        let e = zeroed(p, &[usize::MAX, 2], "a band")
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("huge.tif: "), "{e}");
        assert!(e.contains("a band needs"), "{e}");
        // Fits usize but no allocator gives it (isize::MAX is Rust's limit for one object).
        let e = zeroed(p, &[usize::MAX / 2 + 1], "a plane")
            .unwrap_err()
            .to_string();
        assert!(e.contains("a plane needs"), "{e}");
        assert_eq!(zeroed(p, &[3, 4], "x").unwrap(), vec![0u8; 12]);
        let e = reserved(p, &[usize::MAX, 2], "a block")
            .unwrap_err()
            .to_string();
        assert!(e.contains("a block needs"), "{e}");
        let e = reserved(p, &[usize::MAX / 2 + 1], "a block")
            .unwrap_err()
            .to_string();
        assert!(
            e.starts_with("huge.tif: ") && e.contains("a block needs"),
            "{e}"
        );
        let buf = reserved(p, &[3, 4], "x").unwrap();
        assert!(buf.is_empty() && buf.capacity() >= 12);
    }
}
