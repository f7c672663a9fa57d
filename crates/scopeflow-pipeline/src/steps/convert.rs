//! Options of the `convert` step; the same choices as `scopeflow convert`'s flags, checked by
//! the same rules so that a pipeline never fails on options the command line would refuse.

use crate::fields::Fields;
use crate::node::{Node, Value};
use crate::reader::Reader;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConvertStep {
    /// `"0.5"` (Zarr v3, the default) or `"0.4"` (Zarr v2, for viewers not yet on v3).
    pub ngff: String,
    /// Chunk height and width; even, at least 2; default 512.
    pub chunk_yx: usize,
    /// Shard height and width, a multiple of `chunk_yx`; NGFF 0.5 only; default none.
    pub shard_yx: Option<usize>,
    /// `zstd` (default), `blosc` or `none`.
    pub codec: String,
    /// Compression level; `None` = the codec's default (zstd 1, blosc 5).
    pub level: Option<i32>,
    /// Pyramid levels; `None` = halve until a plane fits in one chunk (`levels: auto`).
    pub levels: Option<usize>,
}

impl Default for ConvertStep {
    fn default() -> Self {
        ConvertStep {
            ngff: "0.5".to_owned(),
            chunk_yx: 512,
            shard_yx: None,
            codec: "zstd".to_owned(),
            level: None,
            levels: None,
        }
    }
}

const KEYS: &[&str] = &["ngff", "chunk_yx", "shard_yx", "codec", "level", "levels"];

pub(super) fn read(node: &Node, key: &str, r: &mut Reader) -> Option<ConvertStep> {
    let f = Fields::read(node, key, r)?;
    f.allow(KEYS, r);
    let mut step = ConvertStep::default();
    if let Some(ngff) = f.string("ngff", r) {
        one_of(&f, "ngff", &ngff, &["0.5", "0.4"], r);
        step.ngff = ngff;
    }
    if let Some(chunk) = f.whole::<usize>("chunk_yx", 2, r) {
        if chunk % 2 == 1 {
            blame(
                &f,
                "chunk_yx",
                format!("must be an even number, found {chunk}"),
                r,
            );
        }
        step.chunk_yx = chunk;
    }
    step.shard_yx = f.whole::<usize>("shard_yx", 2, r);
    if let Some(shard) = step.shard_yx {
        if step.ngff == "0.4" {
            blame(
                &f,
                "shard_yx",
                "needs ngff 0.5 (Zarr v2 has no sharding)".to_owned(),
                r,
            );
        } else if !shard.is_multiple_of(step.chunk_yx) {
            blame(
                &f,
                "shard_yx",
                format!(
                    "must be a multiple of chunk_yx ({}), found {shard}",
                    step.chunk_yx
                ),
                r,
            );
        }
    }
    if let Some(codec) = f.string("codec", r) {
        one_of(&f, "codec", &codec, &["zstd", "blosc", "none"], r);
        step.codec = codec;
    }
    step.level = f.whole::<i32>("level", i128::from(i32::MIN), r);
    if let Some(level) = step.level {
        let range = match step.codec.as_str() {
            "zstd" => Some(-7..=22),
            "blosc" => Some(0..=9),
            _ => None,
        };
        match range {
            Some(range) if !range.contains(&level) => blame(
                &f,
                "level",
                format!(
                    "{} levels are {}..={}, found {level}",
                    step.codec,
                    range.start(),
                    range.end()
                ),
                r,
            ),
            None if step.codec == "none" => {
                blame(&f, "level", "codec `none` takes no level".to_owned(), r)
            }
            _ => {}
        }
    }
    step.levels = levels(&f, r);
    Some(step)
}

/// `levels: auto` and leaving the key out mean the same.
fn levels(f: &Fields, r: &mut Reader) -> Option<usize> {
    let (node, _) = f.get("levels")?;
    if let Value::Str(s) = &node.value
        && s == "auto"
    {
        return None;
    }
    if !matches!(node.value, Value::Int(_)) {
        blame(
            f,
            "levels",
            format!("expected a whole number or auto, found {}", node.describe()),
            r,
        );
        return None;
    }
    f.whole::<usize>("levels", 1, r)
}

fn one_of(f: &Fields, key: &str, value: &str, allowed: &[&str], r: &mut Reader) {
    if !allowed.contains(&value) {
        let quoted: Vec<String> = allowed.iter().map(|a| format!("{a:?}")).collect();
        blame(
            f,
            key,
            format!("must be one of {}, found {value:?}", quoted.join(", ")),
            r,
        );
    }
}

fn blame(f: &Fields, key: &str, problem: String, r: &mut Reader) {
    if let Some((_, pos)) = f.get(key) {
        r.error(pos, format!("{}: {problem}", f.key_path(key)));
    }
}
