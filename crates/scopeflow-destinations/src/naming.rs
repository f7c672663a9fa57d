//! Names of a raw file's outputs at a destination (CLI.md "What a destination holds"):
//! `raw/REL`, `ome-zarr/STEM.ome.zarr`, `qc/STEM.json`; a later version of a replaced file
//! gets `~vN` before its extension so the first version's copies are never overwritten.

/// Image extensions stripped from REL to make STEM, longest first.
const IMAGE_EXTENSIONS: [&str; 6] = [".ome.tiff", ".ome.tif", ".tiff", ".tif", ".btf", ".tf8"];

/// REL without its image extension, and that extension (as written).
pub fn split_stem(rel: &str) -> (&str, &str) {
    let lower = rel.to_ascii_lowercase();
    for ext in IMAGE_EXTENSIONS {
        if lower.ends_with(ext) && lower.len() > ext.len() {
            let cut = rel.len() - ext.len();
            return (&rel[..cut], &rel[cut..]);
        }
    }
    match rel.rfind('.') {
        Some(i) if i > rel.rfind('/').map_or(0, |s| s + 1) => (&rel[..i], &rel[i..]),
        _ => (rel, ""),
    }
}

/// The thumbnail beside a QC document: `qc/STEM.png` for `qc/STEM.json`.
pub fn thumbnail_beside(qc: &str) -> String {
    format!("{}.png", qc.strip_suffix(".json").unwrap_or(qc))
}

/// Where each output of `rel` (version `version`) goes at a destination.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OutputNames {
    pub raw: String,
    pub zarr: String,
    pub qc: String,
}

/// `shares_stem`: another raw file that the journal saw first has the same STEM (`x.tif`
/// beside `x.ome.tif`); this one then keeps its extension in the name (`x~tif`) so neither
/// conversion overwrites the other, and the names never change afterwards.
impl OutputNames {
    /// `qc/STEM.png`, the conversion's thumbnail (named from `qc`, so the two never part).
    pub fn thumbnail(&self) -> String {
        thumbnail_beside(&self.qc)
    }
}

pub fn outputs(rel: &str, version: i64, shares_stem: bool) -> OutputNames {
    let (stem, ext) = split_stem(rel);
    let versioned = |s: String| {
        if version > 1 {
            format!("{s}~v{version}")
        } else {
            s
        }
    };
    // REL itself is unique, so the raw copy only needs the version; the derived names also
    // need the extension when another raw file shares the stem.
    let raw_stem = versioned(stem.to_string());
    let derived = versioned(if shares_stem {
        format!("{stem}~{}", ext.trim_start_matches('.'))
    } else {
        stem.to_string()
    });
    OutputNames {
        raw: format!("raw/{raw_stem}{ext}"),
        zarr: format!("ome-zarr/{derived}.ome.zarr"),
        qc: format!("qc/{derived}.json"),
    }
}

/// Other raw names that would map to the same STEM as `rel`.
pub fn stem_siblings(rel: &str) -> Vec<String> {
    let (stem, ext) = split_stem(rel);
    IMAGE_EXTENSIONS
        .iter()
        .filter(|e| !e.eq_ignore_ascii_case(ext))
        .map(|e| format!("{stem}{e}"))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stems_drop_image_extensions() {
        assert_eq!(split_stem("day1/cell.ome.tif"), ("day1/cell", ".ome.tif"));
        assert_eq!(split_stem("a.TIFF"), ("a", ".TIFF"));
        assert_eq!(split_stem("x.czi"), ("x", ".czi"));
        assert_eq!(split_stem("dir.v2/noext"), ("dir.v2/noext", ""));
    }

    #[test]
    fn later_versions_get_a_suffix() {
        let o = outputs("d/s.ome.tif", 1, false);
        assert_eq!(
            (o.raw.as_str(), o.zarr.as_str(), o.qc.as_str()),
            ("raw/d/s.ome.tif", "ome-zarr/d/s.ome.zarr", "qc/d/s.json")
        );
        let o = outputs("d/s.ome.tif", 2, false);
        assert_eq!(o.raw, "raw/d/s~v2.ome.tif");
        assert_eq!(o.zarr, "ome-zarr/d/s~v2.ome.zarr");
        let o = outputs("d/s.tiff", 1, true);
        assert_eq!(
            (o.raw.as_str(), o.zarr.as_str(), o.qc.as_str()),
            (
                "raw/d/s.tiff",
                "ome-zarr/d/s~tiff.ome.zarr",
                "qc/d/s~tiff.json"
            )
        );
    }

    #[test]
    fn siblings_list_other_image_extensions() {
        assert_eq!(
            stem_siblings("a/x.tiff"),
            vec![
                "a/x.ome.tiff",
                "a/x.ome.tif",
                "a/x.tif",
                "a/x.btf",
                "a/x.tf8"
            ]
        );
    }
}
