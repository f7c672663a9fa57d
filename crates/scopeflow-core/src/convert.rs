//! The choices of an OME-Zarr conversion, as `scopeflow convert`'s flags and a pipeline's
//! `convert` step both spell them: parsed once from their text (flag or YAML), then passed
//! down typed, so no layer re-reads a string or falls back silently on one it does not know.

use std::fmt;
use std::str::FromStr;

/// Chosen by benchmark (see BENCHMARKS.md): 512 keeps viewers responsive and chunk files
/// around 0.5 MiB for 16-bit data, with no measurable cost in conversion speed.
pub const DEFAULT_CHUNK_YX: usize = 512;

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum NgffVersion {
    /// Zarr v2 layout, for viewers not yet on Zarr v3.
    V04,
    #[default]
    V05,
}

impl NgffVersion {
    pub const ALL: [NgffVersion; 2] = [NgffVersion::V05, NgffVersion::V04];

    pub fn as_str(self) -> &'static str {
        match self {
            NgffVersion::V04 => "0.4",
            NgffVersion::V05 => "0.5",
        }
    }
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Codec {
    #[default]
    Zstd,
    /// Blosc with LZ4 and byte shuffle: faster to decode, larger than zstd.
    Blosc,
    None,
}

impl Codec {
    pub const ALL: [Codec; 3] = [Codec::Zstd, Codec::Blosc, Codec::None];

    pub fn as_str(self) -> &'static str {
        match self {
            Codec::Zstd => "zstd",
            Codec::Blosc => "blosc",
            Codec::None => "none",
        }
    }

    /// Compression level when the user gives none: zstd 1 is what keeps conversion faster
    /// than the disk on 2 cores; blosc's customary 5.
    pub fn default_level(self) -> i32 {
        match self {
            Codec::Zstd => 1,
            Codec::Blosc => 5,
            Codec::None => 0,
        }
    }

    /// The levels the codec accepts; `None` when it takes no level at all.
    pub fn levels(self) -> Option<std::ops::RangeInclusive<i32>> {
        match self {
            Codec::Zstd => Some(-7..=22),
            Codec::Blosc => Some(0..=9),
            Codec::None => None,
        }
    }
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Levels {
    /// Halve Y/X until both fit in one chunk.
    #[default]
    Auto,
    Count(usize),
}

macro_rules! named {
    ($t:ty) => {
        impl fmt::Display for $t {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.pad(self.as_str())
            }
        }

        /// The error says which names there are, in the words of the pipeline check.
        impl FromStr for $t {
            type Err = String;
            fn from_str(s: &str) -> Result<Self, String> {
                <$t>::ALL
                    .into_iter()
                    .find(|x| x.as_str() == s)
                    .ok_or_else(|| {
                        let names: Vec<String> = <$t>::ALL
                            .iter()
                            .map(|x| format!("{:?}", x.as_str()))
                            .collect();
                        format!("must be one of {}, found {s:?}", names.join(", "))
                    })
            }
        }
    };
}

named!(NgffVersion);
named!(Codec);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_parse_back_and_unknown_ones_list_the_choices() {
        for v in NgffVersion::ALL {
            assert_eq!(v.as_str().parse::<NgffVersion>(), Ok(v));
        }
        for c in Codec::ALL {
            assert_eq!(c.as_str().parse::<Codec>(), Ok(c));
        }
        assert_eq!(
            "lz4".parse::<Codec>(),
            Err(r#"must be one of "zstd", "blosc", "none", found "lz4""#.to_owned())
        );
        assert_eq!(
            "0.3".parse::<NgffVersion>(),
            Err(r#"must be one of "0.5", "0.4", found "0.3""#.to_owned())
        );
    }
}
