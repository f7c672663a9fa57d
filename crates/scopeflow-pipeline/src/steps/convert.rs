//! Options of the `convert` step; the same choices as `scopeflow convert`'s flags, checked by
//! the same rules so that a pipeline never fails on options the command line would refuse.

use scopeflow_core::{Codec, DEFAULT_CHUNK_YX, Levels, NgffVersion};

use crate::fields::Fields;
use crate::node::{Node, Value};
use crate::reader::Reader;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConvertStep {
    /// 0.5 (Zarr v3, the default) or 0.4 (Zarr v2, for viewers not yet on v3).
    pub ngff: NgffVersion,
    /// Chunk height and width; even, at least 2; default 512.
    pub chunk_yx: usize,
    /// Shard height and width, a multiple of `chunk_yx`; NGFF 0.5 only; default none.
    pub shard_yx: Option<usize>,
    /// `zstd` (default), `blosc` or `none`.
    pub codec: Codec,
    /// Compression level; `None` = the codec's default (zstd 1, blosc 5).
    pub level: Option<i32>,
    /// Pyramid levels; `auto` (the default) halves until a plane fits in one chunk.
    pub levels: Levels,
}

impl Default for ConvertStep {
    fn default() -> Self {
        ConvertStep {
            ngff: NgffVersion::default(),
            chunk_yx: DEFAULT_CHUNK_YX,
            shard_yx: None,
            codec: Codec::default(),
            level: None,
            levels: Levels::Auto,
        }
    }
}

const KEYS: &[&str] = &["ngff", "chunk_yx", "shard_yx", "codec", "level", "levels"];

pub(super) fn read(node: &Node, key: &str, r: &mut Reader) -> Option<ConvertStep> {
    let f = Fields::read(node, key, r)?;
    f.allow(KEYS, r);
    let mut step = ConvertStep::default();
    if let Some(ngff) = f.string("ngff", r) {
        match ngff.parse() {
            Ok(v) => step.ngff = v,
            Err(e) => blame(&f, "ngff", e, r),
        }
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
        if step.ngff == NgffVersion::V04 {
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
    // After an unknown codec (reported once) there is no range to check the level against.
    let mut codec_known = true;
    if let Some(codec) = f.string("codec", r) {
        match codec.parse() {
            Ok(c) => step.codec = c,
            Err(e) => {
                codec_known = false;
                blame(&f, "codec", e, r);
            }
        }
    }
    step.level = f.whole::<i32>("level", i128::from(i32::MIN), r);
    if let Some(level) = step.level.filter(|_| codec_known) {
        match step.codec.levels() {
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
            None => blame(&f, "level", "codec `none` takes no level".to_owned(), r),
            _ => {}
        }
    }
    step.levels = levels(&f, r);
    Some(step)
}

/// `levels: auto` and leaving the key out mean the same.
fn levels(f: &Fields, r: &mut Reader) -> Levels {
    let Some((node, _)) = f.get("levels") else {
        return Levels::Auto;
    };
    if let Value::Str(s) = &node.value
        && s == "auto"
    {
        return Levels::Auto;
    }
    if !matches!(node.value, Value::Int(_)) {
        blame(
            f,
            "levels",
            format!("expected a whole number or auto, found {}", node.describe()),
            r,
        );
        return Levels::Auto;
    }
    f.whole::<usize>("levels", 1, r)
        .map_or(Levels::Auto, Levels::Count)
}

fn blame(f: &Fields, key: &str, problem: String, r: &mut Reader) {
    if let Some((_, pos)) = f.get(key) {
        r.error(pos, format!("{}: {problem}", f.key_path(key)));
    }
}
