//! Issue 20: files whose header claims more pixels than memory holds. Each fails that one file
//! with exit 1 and a message naming it, never an abort (exit 134) or the OOM killer, leaves
//! nothing at OUTPUT, and in a watched folder is failed like any bad file while the agent
//! goes on.

use std::fs;
use std::path::{Path, PathBuf};

use crate::util::*;

/// A little-endian classic TIFF with one page stored as `strips` strips of `strip_bytes` bytes
/// each (their content is random: these files fail before any pixel is decoded).
struct Tiff {
    width: u32,
    height: u32,
    rows_per_strip: u32,
    strip_bytes: u32,
    bits: u16,
    samples: u16,
    /// 1 unsigned, 3 float.
    sample_format: u16,
    /// 1 none, 8 deflate.
    compression: u16,
}

impl Tiff {
    fn bytes(&self) -> Vec<u8> {
        let strips = self.height.div_ceil(self.rows_per_strip);
        let s = u32::from(self.samples);
        // Header, IFD (entries of 12 bytes), then the arrays, then the strips.
        let entries: u32 = 11;
        let ifd_len = 2 + 12 * entries + 4;
        let bits_at = 8 + ifd_len;
        let formats_at = bits_at + 2 * s;
        let offsets_at = formats_at + 2 * s;
        let counts_at = offsets_at + 4 * strips;
        let data_at = counts_at + 4 * strips;
        let mut b: Vec<u8> = b"II*\0".to_vec();
        b.extend(8u32.to_le_bytes());
        b.extend((entries as u16).to_le_bytes());
        let mut entry = |tag: u16, typ: u16, count: u32, value: u32| {
            b.extend(tag.to_le_bytes());
            b.extend(typ.to_le_bytes());
            b.extend(count.to_le_bytes());
            b.extend(value.to_le_bytes());
        };
        let (short, long) = (3u16, 4u16);
        // A SHORT array of 1 or 2 values sits in the entry itself.
        let shorts = |v: u16, at: u32| {
            if s <= 2 {
                u32::from(v) | ((u32::from(v) << 16) * (s - 1))
            } else {
                at
            }
        };
        entry(256, long, 1, self.width);
        entry(257, long, 1, self.height);
        entry(258, short, s, shorts(self.bits, bits_at));
        entry(259, short, 1, u32::from(self.compression));
        entry(262, short, 1, if s == 3 { 2 } else { 1 });
        entry(
            273,
            long,
            strips,
            if strips == 1 { data_at } else { offsets_at },
        );
        entry(277, short, 1, s);
        entry(278, long, 1, self.rows_per_strip);
        entry(
            279,
            long,
            strips,
            if strips == 1 {
                self.strip_bytes
            } else {
                counts_at
            },
        );
        entry(284, short, 1, 1);
        entry(339, short, s, shorts(self.sample_format, formats_at));
        b.extend(0u32.to_le_bytes());
        assert_eq!(b.len() as u32, bits_at);
        for v in [self.bits, self.sample_format] {
            for _ in 0..s {
                b.extend(v.to_le_bytes());
            }
        }
        for i in 0..strips {
            b.extend((data_at + i * self.strip_bytes).to_le_bytes());
        }
        for _ in 0..strips {
            b.extend(self.strip_bytes.to_le_bytes());
        }
        assert_eq!(b.len() as u32, data_at);
        let mut x: u32 = 0x9E37_79B9;
        b.extend((0..strips * self.strip_bytes).map(|_| {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            x as u8
        }));
        b
    }
}

/// 4,194,304 (2^22, the widest side accepted) x 1,024 RGB float64 pixels in deflate strips of
/// `rows_per_strip` rows and `strip_bytes` bytes each.
fn wide_rgb(rows_per_strip: u32, strip_bytes: u32) -> Vec<u8> {
    Tiff {
        width: 1 << 22,
        height: 1024,
        rows_per_strip,
        strip_bytes,
        bits: 64,
        samples: 3,
        sample_format: 3,
        compression: 8,
    }
    .bytes()
}

/// Exit 1 from `inspect` (when `inspect_fails`), `qc` and `convert`, each naming the file and
/// one of `causes`, with nothing left at OUTPUT or beside it.
fn refused_everywhere(dir: &Dir, file: &Path, inspect_fails: bool, causes: &[&str]) {
    let name = file.file_name().unwrap().to_str().unwrap();
    let out = dir.join("out.ome.zarr");
    let mut runs = vec![
        scopeflow(args!["qc", file, "--json", "--quiet"]),
        scopeflow(args!["convert", file, &out, "--quiet"]),
    ];
    let inspect = scopeflow(args!["inspect", file, "--json"]);
    if inspect_fails {
        runs.push(inspect);
    } else {
        inspect.success();
    }
    for r in runs {
        let r = r.exit(1);
        assert!(r.stderr.contains(name), "names the file: {r}");
        let lower = r.stderr.to_lowercase();
        assert!(
            causes.iter().any(|c| lower.contains(c)),
            "says why ({causes:?}): {r}"
        );
    }
    let left: Vec<PathBuf> = fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            p.file_name()
                .unwrap()
                .to_string_lossy()
                .contains("out.ome.zarr")
        })
        .collect();
    assert!(left.is_empty(), "left behind: {left:?}");
}

sftest!(issue_reproducer_width_2_to_the_32_is_refused, |dir: Dir| {
    // The issue's reproducer: a 16x16 uint8 TIFF whose ImageWidth says 0xFFFFFFFF.
    let t = Tiff {
        width: 0xFFFF_FFFF,
        height: 16,
        rows_per_strip: 16,
        strip_bytes: 256,
        bits: 8,
        samples: 1,
        sample_format: 1,
        compression: 1,
    };
    let file = dir.create("wide.tif", t.bytes());
    refused_everywhere(&dir, &file, true, &["corrupt"]);
});

sftest!(
    band_larger_than_memory_is_refused_before_allocating,
    |dir: Dir| {
        // Passes every header check (a side of 2^22 pixels is allowed, each deflate strip may
        // expand 65,536 times), but one band of 256 rows of 4,194,304 RGB float64 pixels is 24 GiB:
        // more than this machine can give, and far more than any real image needs.
        let file = dir.create("wide-rgb.tif", wide_rgb(1, 2048));
        let inspect = scopeflow(args!["inspect", &file, "--json"])
            .success()
            .stdout_json();
        assert_eq!(
            inspect["shape"],
            serde_json::json!([1024, 4194304, 3]),
            "{inspect}"
        );
        refused_everywhere(&dir, &file, false, &["memory"]);
    }
);

sftest!(
    compressed_strip_larger_than_memory_is_refused,
    |dir: Dir| {
        // One deflate strip claiming 1,024 rows of 4,194,304 RGB float64 pixels (96 GiB).
        let file = dir.create("one-strip.tif", wide_rgb(1024, 2 << 20));
        refused_everywhere(&dir, &file, true, &["decodes to"]);
    }
);

sftest!(agent_fails_the_file_and_goes_on, |dir: Dir| {
    let acq = dir.mkdir("acq");
    dir.mkdir("nas");
    fs::write(acq.join("wide-rgb.tif"), wide_rgb(1, 2048)).unwrap();
    fs::copy(SYNTH_F.path(), acq.join("fine.tif")).unwrap();
    let cfg = dir.create(
        "pipeline.yaml",
        "version: 1\nname: huge\nwatch:\n  - path: acq\n    settle: 1s\n\
         destinations:\n  - name: nas\n    kind: local\n    path: nas/huge\n",
    );
    for _ in 0..2 {
        let r = scopeflow(args!["agent", "--config", &cfg, "--once"]);
        assert_eq!(r.code(), Some(1), "fails the file, not the process: {r}");
    }
    let files = scopeflow(args!["status", "--config", &cfg, "--json"])
        .success()
        .stdout_json();
    let state = |p: &str| {
        files["files"]
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f["path"] == p)
            .unwrap_or_else(|| panic!("{p}: {files:#}"))
            .clone()
    };
    assert_eq!(state("fine.tif")["state"], "verified");
    let bad = state("wide-rgb.tif");
    assert!(
        matches!(bad["state"].as_str(), Some("failed" | "quarantined")),
        "{bad:#}"
    );
    assert!(bad["error"].as_str().unwrap().contains("memory"), "{bad:#}");
    assert!(bad["attempts"].as_u64().unwrap() >= 1, "{bad:#}");
});
