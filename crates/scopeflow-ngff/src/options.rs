use serde_json::{Value, json};

pub use scopeflow_core::{Codec, DEFAULT_CHUNK_YX, Levels, NgffVersion};

#[derive(Clone, Debug)]
pub struct ConvertOptions {
    pub ngff: NgffVersion,
    pub chunk_yx: usize,
    pub shard_yx: Option<usize>,
    pub codec: Codec,
    pub level: Option<i32>,
    pub levels: Levels,
    pub overwrite: bool,
    /// Hash each file as it is written and report the digests ([`crate::FileDigests`]), for a
    /// caller that copies the output and checks every copy against what was written.
    pub record_digests: bool,
    /// Start each file's writeback as soon as it is written (Linux), for a caller that flushes
    /// the output right after converting; otherwise the disk idles until that flush.
    pub early_writeback: bool,
}

impl Default for ConvertOptions {
    fn default() -> Self {
        ConvertOptions {
            ngff: NgffVersion::V05,
            chunk_yx: DEFAULT_CHUNK_YX,
            shard_yx: None,
            codec: Codec::Zstd,
            level: None,
            levels: Levels::Auto,
            overwrite: false,
            record_digests: false,
            early_writeback: false,
        }
    }
}

impl ConvertOptions {
    pub fn effective_level(&self) -> i32 {
        self.level.unwrap_or(self.codec.default_level())
    }

    /// # Errors
    /// A description of the first inconsistent option.
    pub fn validate(&self) -> Result<(), String> {
        if self.chunk_yx < 2 || !self.chunk_yx.is_multiple_of(2) {
            return Err(format!(
                "--chunk-yx must be an even number ≥ 2, not {}",
                self.chunk_yx
            ));
        }
        if let Some(s) = self.shard_yx {
            if self.ngff == NgffVersion::V04 {
                return Err("--shard-yx needs NGFF 0.5 (Zarr v2 has no sharding)".into());
            }
            if s < self.chunk_yx || !s.is_multiple_of(self.chunk_yx) {
                return Err(format!(
                    "--shard-yx ({s}) must be a multiple of --chunk-yx ({})",
                    self.chunk_yx
                ));
            }
        }
        if let Levels::Count(0) = self.levels {
            return Err("--levels must be at least 1".into());
        }
        let level = self.effective_level();
        match self.codec {
            Codec::Zstd if !(-7..=22).contains(&level) => {
                Err(format!("zstd --level must be in -7..=22, not {level}"))
            }
            Codec::Blosc if !(0..=9).contains(&level) => {
                Err(format!("blosc --level must be in 0..=9, not {level}"))
            }
            _ => Ok(()),
        }
    }

    /// The options as recorded in the provenance attribute.
    pub fn to_json(&self) -> Value {
        json!({
            "ngff": self.ngff.as_str(),
            "chunk_yx": self.chunk_yx,
            "shard_yx": self.shard_yx,
            "codec": self.codec.as_str(),
            "level": self.effective_level(),
            "levels": match self.levels { Levels::Auto => json!("auto"), Levels::Count(n) => json!(n) },
        })
    }
}
