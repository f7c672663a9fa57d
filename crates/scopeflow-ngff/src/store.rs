//! Zarr arrays of each level: metadata built as the spec's JSON (one code path for Zarr v2
//! and v3, sharding included), chunk encoding left to zarrs.

use std::path::Path;
use std::sync::{Arc, Once};

use scopeflow_core::{Axis, DType};
use serde_json::{Value, json};
use zarrs::array::{Array, ArrayBytes, ArrayMetadata, CodecOptions};
use zarrs::storage::WritableStorageTraits;

use crate::ConvertError;
use crate::fsstore::{StagingStore, Written};
use crate::options::{Codec, ConvertOptions, NgffVersion};
use crate::plan::Plan;

pub(crate) type LevelArray = Array<StagingStore>;

fn zarr_error(path: &Path, e: impl std::fmt::Display) -> ConvertError {
    ConvertError::Zarr {
        path: path.to_path_buf(),
        what: e.to_string(),
    }
}

fn configure_zarrs() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let mut c = zarrs::config::global_config_mut();
        // No `_zarrs` attribute: the provenance attribute says who wrote the data.
        c.set_include_zarrs_metadata(false);
        // Write every chunk, so a copy's file count and manifest do not depend on content.
        c.set_store_empty_chunks(true);
    });
}

fn v2_dtype(d: DType) -> &'static str {
    match d {
        DType::U8 => "|u1",
        DType::U16 => "<u2",
        DType::U32 => "<u4",
        DType::I8 => "|i1",
        DType::I16 => "<i2",
        DType::I32 => "<i4",
        DType::F32 => "<f4",
        DType::F64 => "<f8",
    }
}

fn fill(d: DType) -> Value {
    if d.is_float() { json!(0.0) } else { json!(0) }
}

fn v3_compressor(opts: &ConvertOptions, dtype: DType) -> Option<Value> {
    let level = opts.effective_level();
    match opts.codec {
        Codec::Zstd => {
            Some(json!({"name": "zstd", "configuration": {"level": level, "checksum": false}}))
        }
        Codec::Blosc => Some(json!({"name": "blosc", "configuration": {
            "cname": "lz4", "clevel": level, "shuffle": if dtype.size() > 1 { "shuffle" } else { "noshuffle" },
            "typesize": dtype.size(), "blocksize": 0}})),
        Codec::None => None,
    }
}

fn v2_compressor(opts: &ConvertOptions, dtype: DType) -> Value {
    let level = opts.effective_level();
    match opts.codec {
        Codec::Zstd => json!({"id": "zstd", "level": level, "checksum": false}),
        Codec::Blosc => json!({"id": "blosc", "cname": "lz4", "clevel": level,
            "shuffle": if dtype.size() > 1 { 1 } else { 0 }, "blocksize": 0}),
        Codec::None => Value::Null,
    }
}

fn array_json(plan: &Plan, k: usize, dtype: DType, opts: &ConvertOptions) -> Value {
    let lvl = &plan.levels[k];
    let lead = plan.lead.len();
    let block: Vec<usize> = std::iter::repeat_n(1, lead)
        .chain([lvl.block.0, lvl.block.1])
        .collect();
    let names: Vec<&str> = plan.axes.iter().map(|a: &Axis| a.ngff_name()).collect();
    match opts.ngff {
        NgffVersion::V05 => {
            let mut codecs = vec![json!({"name": "bytes", "configuration": {"endian": "little"}})];
            codecs.extend(v3_compressor(opts, dtype));
            let codecs = match lvl.inner {
                Some((iy, ix)) => {
                    let inner: Vec<usize> = std::iter::repeat_n(1, lead).chain([iy, ix]).collect();
                    vec![json!({"name": "sharding_indexed", "configuration": {
                        "chunk_shape": inner,
                        "codecs": codecs,
                        "index_codecs": [{"name": "bytes", "configuration": {"endian": "little"}}, {"name": "crc32c"}],
                        "index_location": "end"}})]
                }
                None => codecs,
            };
            json!({
                "zarr_format": 3,
                "node_type": "array",
                "shape": plan.shape(k),
                "data_type": dtype.name(),
                "chunk_grid": {"name": "regular", "configuration": {"chunk_shape": block}},
                "chunk_key_encoding": {"name": "default", "configuration": {"separator": "/"}},
                "fill_value": fill(dtype),
                "codecs": codecs,
                "dimension_names": names,
                "attributes": {},
            })
        }
        NgffVersion::V04 => json!({
            "zarr_format": 2,
            "shape": plan.shape(k),
            "chunks": block,
            "dtype": v2_dtype(dtype),
            "compressor": v2_compressor(opts, dtype),
            "fill_value": fill(dtype),
            "order": "C",
            "filters": null,
            "dimension_separator": "/",
        }),
    }
}

/// The arrays of every level, and the store they write through.
pub(crate) struct LevelStore {
    root: std::path::PathBuf,
    store: Arc<StagingStore>,
    arrays: Vec<LevelArray>,
    /// Set for unsharded zstd: blocks are compressed here with a per-thread reusable context
    /// (zarrs builds a fresh one per chunk, which costs ~10% of a conversion), producing the
    /// same frames zarrs would.
    zstd_level: Option<i32>,
    sharded: bool,
}

thread_local! {
    static ZSTD: std::cell::RefCell<Option<(i32, zstd::bulk::Compressor<'static>)>> =
        const { std::cell::RefCell::new(None) };
}

fn zstd_compress(level: i32, bytes: &[u8]) -> std::io::Result<Vec<u8>> {
    ZSTD.with(|cell| {
        let mut slot = cell.borrow_mut();
        if slot.as_ref().is_none_or(|(l, _)| *l != level) {
            *slot = Some((level, zstd::bulk::Compressor::new(level)?));
        }
        let (_, c) = slot.as_mut().expect("set above");
        c.compress(bytes)
    })
}

impl LevelStore {
    /// Creates the arrays `0`, `1`, … under `root` and writes their metadata.
    pub(crate) fn create(
        root: &Path,
        plan: &Plan,
        dtype: DType,
        opts: &ConvertOptions,
        written: Option<Arc<Written>>,
    ) -> Result<LevelStore, ConvertError> {
        configure_zarrs();
        let store = Arc::new(StagingStore::new(root, written, opts.early_writeback));
        let arrays = (0..plan.levels.len())
            .map(|k| {
                let meta: ArrayMetadata = serde_json::from_value(array_json(plan, k, dtype, opts))
                    .map_err(|e| zarr_error(root, format!("array metadata: {e}")))?;
                let array = Array::new_with_metadata(store.clone(), &format!("/{k}"), meta)
                    .map_err(|e| zarr_error(root, e))?;
                array.store_metadata().map_err(|e| zarr_error(root, e))?;
                Ok(array)
            })
            .collect::<Result<Vec<_>, ConvertError>>()?;
        let zstd_level =
            (opts.codec == Codec::Zstd && opts.shard_yx.is_none()).then(|| opts.effective_level());
        Ok(LevelStore {
            root: root.to_path_buf(),
            store,
            arrays,
            zstd_level,
            sharded: opts.shard_yx.is_some(),
        })
    }

    /// Encodes and stores one block (chunk or shard) of level `k`; `bytes` has the block's
    /// full shape.
    pub(crate) fn store_block(
        &self,
        k: usize,
        indices: &[u64],
        bytes: &[u8],
    ) -> Result<(), ConvertError> {
        let array = &self.arrays[k];
        if let Some(level) = self.zstd_level {
            let encoded = zstd_compress(level, bytes).map_err(|e| zarr_error(&self.root, e))?;
            return self
                .store
                .set(&array.chunk_key(indices), encoded.into())
                .map_err(|e| zarr_error(&self.root, e));
        }
        let mut options = CodecOptions::default();
        if !self.sharded {
            // Parallelism comes from the caller (planes and block columns).
            options.set_concurrent_target(1);
        }
        array
            .store_chunk_opt(indices, ArrayBytes::from(bytes), &options)
            .map_err(|e| zarr_error(&self.root, e))
    }
}
