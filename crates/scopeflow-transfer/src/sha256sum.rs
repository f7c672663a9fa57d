//! The `sha256sum` line format, `<64 hex digits><space><mode><path>\n`: the manifest's at every
//! destination, and `sha256sum`'s own output on an SFTP server. Written and read here only, so
//! every back-end agrees on what a line says.

use crate::{Digest, RelPath};

/// Why a path cannot be listed.
pub(crate) const UNLISTABLE: &str =
    "a manifest path must not hold '\\' or a line break: sha256sum would escape it";

/// Appends the line listing `path` with `digest` to `text`.
///
/// # Errors
/// [`UNLISTABLE`] for a path `sha256sum` would escape ('\\' or a line break, which it prefixes
/// with '\\'). [`RelPath`] already refuses them; checked again because the manifest must always
/// pass `sha256sum -c`, and every line must read back exactly as the path was given.
pub(crate) fn push_line(
    text: &mut String,
    path: &RelPath,
    digest: &Digest,
) -> Result<(), &'static str> {
    if path.as_str().contains(['\n', '\r', '\\']) {
        return Err(UNLISTABLE);
    }
    text.push_str(&digest.to_hex());
    text.push_str("  ");
    text.push_str(path.as_str());
    text.push('\n');
    Ok(())
}

/// The digest and the path a line lists (without its line break); `None` for a line of any
/// other shape.
pub fn read_line(line: &str) -> Option<(Digest, &str)> {
    let (hex, path) = (line.get(..64)?, line.get(66..)?);
    Some((Digest::from_hex(hex).ok()?, path))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_written_line_reads_back() {
        let path = RelPath::new("raw/a b.tif").unwrap();
        let digest = Digest::from_hex(&"ab".repeat(32)).unwrap();
        let mut text = String::new();
        push_line(&mut text, &path, &digest).unwrap();
        assert_eq!(
            read_line(text.trim_end_matches('\n')),
            Some((digest, "raw/a b.tif"))
        );
        assert_eq!(read_line("not a line"), None);
        assert_eq!(read_line(&format!("{}  x", "zz".repeat(32))), None);
    }
}
