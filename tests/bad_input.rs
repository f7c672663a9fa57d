//! Bad input and bad usage. A file that cannot be read fails with exit 1, a message on stderr
//! naming the file and the cause, no panic, and (for `convert`) nothing at OUTPUT nor beside it.
//! A bad command line fails with exit 2.

use std::fs;
use std::path::PathBuf;

use crate::util::*;

/// One bad input: where it is, the name its error message must contain, and the words of which
/// at least one must appear in that message (lower case).
struct Bad {
    path: PathBuf,
    name: String,
    causes: &'static [&'static str],
}

const NOT_READABLE: &[&str] = &[
    "empty",
    "0 bytes",
    "too short",
    "truncat",
    "unexpected end",
    "end of file",
    "eof",
    "not a tiff",
    "unsupported",
    "not supported",
    "unknown format",
    "unknown file format",
    "unrecognized",
    "unrecognised",
    "magic",
    "signature",
    "invalid",
    "corrupt",
];
const TRUNCATED: &[&str] = &[
    "truncat",
    "unexpected end",
    "end of file",
    "eof",
    "too short",
    "incomplete",
    "corrupt",
    "past the end",
    "beyond the end",
    "out of bounds",
    "outside the file",
    "offset",
    "invalid",
];
const CORRUPT_PIXELS: &[&str] = &[
    "corrupt",
    "decod",
    "decompress",
    "deflate",
    "zlib",
    "invalid",
    "truncat",
    "unexpected end",
];
const CODEC: &[&str] = &["compression", "codec", "jpeg", "34712"];
const MISSING: &[&str] = &[
    "no such file",
    "not found",
    "does not exist",
    "doesn't exist",
    "cannot find",
];
const DIRECTORY: &[&str] = &[
    "directory",
    "folder",
    "is a dir",
    "not a file",
    "not a regular file",
];
const UNSUPPORTED_FORMAT: &[&str] = &[
    "unsupported",
    "not supported",
    "unknown format",
    "unknown file format",
    "unrecognized",
    "unrecognised",
];

fn bad(dir: &Dir, name: &str, contents: impl AsRef<[u8]>, causes: &'static [&'static str]) -> Bad {
    Bad {
        path: dir.create(name, contents),
        name: name.to_string(),
        causes,
    }
}

// ---------------------------------------------------------------------------------------------
// TIFF surgery
// ---------------------------------------------------------------------------------------------

const TINY_W: u32 = 64;
const TINY_H: u32 = 48;

/// A small valid little-endian baseline TIFF: 64x48 uint16, one uncompressed strip, pixels
/// first and the IFD after them.
fn tiny_tiff() -> Vec<u8> {
    let mut pixels = Vec::new();
    for y in 0..TINY_H {
        for x in 0..TINY_W {
            pixels.extend(((y * 1000 + x * 7) as u16).to_le_bytes());
        }
    }
    let ifd = 8 + pixels.len() as u32;
    const SHORT: u16 = 3;
    const LONG: u16 = 4;
    let entries: [(u16, u16, u32); 11] = [
        (256, LONG, TINY_W),              // ImageWidth
        (257, LONG, TINY_H),              // ImageLength
        (258, SHORT, 16),                 // BitsPerSample
        (259, SHORT, 1),                  // Compression: none
        (262, SHORT, 1),                  // PhotometricInterpretation: BlackIsZero
        (273, LONG, 8),                   // StripOffsets
        (277, SHORT, 1),                  // SamplesPerPixel
        (278, LONG, TINY_H),              // RowsPerStrip
        (279, LONG, pixels.len() as u32), // StripByteCounts
        (284, SHORT, 1),                  // PlanarConfiguration: contiguous
        (339, SHORT, 1),                  // SampleFormat: unsigned
    ];
    let mut b = Vec::new();
    b.extend(b"II");
    b.extend(42u16.to_le_bytes());
    b.extend(ifd.to_le_bytes());
    b.extend(&pixels);
    b.extend((entries.len() as u16).to_le_bytes());
    for (tag, typ, value) in entries {
        b.extend(tag.to_le_bytes());
        b.extend(typ.to_le_bytes());
        b.extend(1u32.to_le_bytes());
        b.extend(value.to_le_bytes()); // a SHORT sits in the first two bytes, little-endian
    }
    b.extend(0u32.to_le_bytes()); // no next IFD
    b
}

/// Sets the value of `tag` (a single SHORT or LONG) in the first IFD, found by walking the IFD
/// (classic or BigTIFF, either byte order).
fn patch_tag(b: &mut [u8], tag: u16, value: u32) {
    let le = match &b[..2] {
        b"II" => true,
        b"MM" => false,
        other => panic!("not a TIFF: starts with {other:?}"),
    };
    let rd = |o: usize, n: usize| -> u64 {
        let s = &b[o..o + n];
        let it: Box<dyn Iterator<Item = &u8>> = if le {
            Box::new(s.iter().rev())
        } else {
            Box::new(s.iter())
        };
        it.fold(0u64, |acc, &x| (acc << 8) | u64::from(x))
    };
    let (ifd, count_len, entry_len, value_at) = match rd(2, 2) {
        42 => (rd(4, 4) as usize, 2, 12, 8),
        43 => (rd(8, 8) as usize, 8, 20, 12),
        m => panic!("not a TIFF: magic {m}"),
    };
    let n = rd(ifd, count_len) as usize;
    for i in 0..n {
        let e = ifd + count_len + i * entry_len;
        if rd(e, 2) != u64::from(tag) {
            continue;
        }
        let bytes: Vec<u8> = match rd(e + 2, 2) {
            3 => {
                let v = u16::try_from(value).expect("SHORT value");
                if le {
                    v.to_le_bytes().to_vec()
                } else {
                    v.to_be_bytes().to_vec()
                }
            }
            4 => {
                if le {
                    value.to_le_bytes().to_vec()
                } else {
                    value.to_be_bytes().to_vec()
                }
            }
            t => panic!("tag {tag} has field type {t}, expected SHORT or LONG"),
        };
        b[e + value_at..e + value_at + bytes.len()].copy_from_slice(&bytes);
        return;
    }
    panic!("tag {tag} not found in the first IFD");
}

/// The first `fraction` of a sample's bytes.
fn head_of(sample: &Sample, fraction: f64) -> Vec<u8> {
    let mut b = fs::read(sample.path()).expect("read sample");
    b.truncate((b.len() as f64 * fraction) as usize);
    b
}

// ---------------------------------------------------------------------------------------------
// The bad inputs
// ---------------------------------------------------------------------------------------------

fn empty_file(dir: &Dir) -> Bad {
    bad(dir, "empty.tif", [], NOT_READABLE)
}

fn random_bytes(dir: &Dir) -> Bad {
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut b: Vec<u8> = (0..65_536)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 24) as u8
        })
        .collect();
    b[..4].copy_from_slice(b"\x7fRND"); // never a TIFF header by chance
    bad(dir, "random.tif", b, NOT_READABLE)
}

fn truncated_plain(dir: &Dir) -> Bad {
    bad(dir, "truncated_a.tif", head_of(&SYNTH_A, 0.5), TRUNCATED)
}

fn truncated_compressed(dir: &Dir) -> Bad {
    bad(dir, "truncated_d.tif", head_of(&SYNTH_D, 0.6), TRUNCATED)
}

fn ifd_offset_past_end(dir: &Dir) -> Bad {
    let mut b = tiny_tiff();
    let past = b.len() as u32 + 4096;
    b[4..8].copy_from_slice(&past.to_le_bytes());
    bad(dir, "ifd_past_end.tif", b, TRUNCATED)
}

fn jpeg2000_compression(dir: &Dir) -> Bad {
    let mut b = tiny_tiff();
    patch_tag(&mut b, 259, 34712);
    bad(dir, "jpeg2000.tif", b, CODEC)
}

fn old_jpeg_compression(dir: &Dir) -> Bad {
    let mut b = fs::read(REAL_METAMORPH.path()).expect("read the MetaMorph sample");
    patch_tag(&mut b, 259, 6);
    bad(dir, "old_jpeg.tif", b, CODEC)
}

fn nonexistent_path(dir: &Dir) -> Bad {
    Bad {
        path: dir.join("does_not_exist.tif"),
        name: "does_not_exist.tif".into(),
        causes: MISSING,
    }
}

fn directory_as_input(dir: &Dir) -> Bad {
    Bad {
        path: dir.mkdir("folder.tif"),
        name: "folder.tif".into(),
        causes: DIRECTORY,
    }
}

fn real_cellomics_c01(_dir: &Dir) -> Bad {
    let name = "cellprofiler_iamac01file.c01";
    Bad {
        path: real_samples_dir().join(name),
        name: name.into(),
        causes: UNSUPPORTED_FORMAT,
    }
}

// ---------------------------------------------------------------------------------------------
// Checks
// ---------------------------------------------------------------------------------------------

fn check_message(p: &mut Problems, dir: &Dir, run: &Run, bad: &Bad) {
    p.check(run.code() == Some(1), || {
        format!("exit code {:?}, expected 1", run.code())
    });
    p.check(!run.stderr.contains("panicked"), || "it panicked".into());
    p.check(run.stderr.contains(&bad.name), || {
        format!("stderr does not name the file {:?}", bad.name)
    });
    // The cause must be in the message itself, not in the paths: the test's folder and the
    // file are named after the case (`..._truncated_plain/truncated_a.tif`).
    let mut paths = vec![bad.path.clone(), dir.path().to_path_buf()];
    paths.extend(paths.clone().iter().filter_map(|p| p.canonicalize().ok()));
    let mut message = run.stderr.clone();
    for path in &paths {
        message = message.replace(&*path.to_string_lossy(), "<PATH>");
    }
    let message = message.replace(&bad.name, "<NAME>").to_lowercase();
    p.check(bad.causes.iter().any(|c| message.contains(c)), || {
        format!(
            "stderr (paths aside) gives none of the expected causes {:?}",
            bad.causes
        )
    });
}

fn convert_fails(dir: &Dir, bad: &Bad) {
    let parent = dir.mkdir("out");
    let out = parent.join("result.ome.zarr");
    let before = list_dir(&parent);
    let run = scopeflow(args!["convert", bad.path, out]);
    let mut p = Problems::new();
    check_message(&mut p, dir, &run, bad);
    p.check(!exists_at_all(&out), || {
        format!("something was left at OUTPUT {}", out.display())
    });
    let after = list_dir(&parent);
    p.check(after == before, || {
        format!("OUTPUT's folder held {before:?} before, {after:?} after")
    });
    p.finish(&run);
}

fn inspect_fails(dir: &Dir, bad: &Bad) {
    let run = scopeflow(args!["inspect", bad.path, "--json"]);
    let mut p = Problems::new();
    check_message(&mut p, dir, &run, bad);
    p.finish(&run);
}

fn qc_fails(dir: &Dir, bad: &Bad) {
    let run = scopeflow(args!["qc", bad.path, "--json"]);
    let mut p = Problems::new();
    check_message(&mut p, dir, &run, bad);
    p.finish(&run);
}

/// One test per (command, bad input): `bad_input::convert::empty_file`, ...
macro_rules! bad_input_tests {
    ($($case:ident),* $(,)?) => {
        mod convert {
            use super::*;
            $( sftest!($case, |dir: Dir| { convert_fails(&dir, &super::$case(&dir)); }); )*
        }
        mod inspect {
            use super::*;
            $( sftest!($case, |dir: Dir| { inspect_fails(&dir, &super::$case(&dir)); }); )*
        }
        mod qc {
            use super::*;
            $( sftest!($case, |dir: Dir| { qc_fails(&dir, &super::$case(&dir)); }); )*
        }
    };
}

bad_input_tests!(
    empty_file,
    random_bytes,
    truncated_plain,
    truncated_compressed,
    ifd_offset_past_end,
    jpeg2000_compression,
    old_jpeg_compression,
    nonexistent_path,
    directory_as_input,
    real_cellomics_c01,
);

// The real Zeiss CZI used to be refused here; it is now read (issue 12): every command
// succeeds on it, and what `inspect` reports is what MANIFEST.md says of the file.
sftest!(real_czi_is_converted, |dir: Dir| {
    let src = real_samples_dir().join("aics_s_1_t_1_c_1_z_1.czi");
    let run = scopeflow(args!["inspect", src, "--json"]).success();
    let doc = run.stdout_json();
    assert_eq!(
        (&doc["format"], &doc["axes"], &doc["shape"], &doc["dtype"]),
        (
            &"czi".into(),
            &"YX".into(),
            &serde_json::json!([325, 475]),
            &"uint16".into()
        ),
        "inspect of the real CZI\n{run}"
    );
    assert_eq!(doc["channel_names"], serde_json::json!(["Bright"]), "{run}");
    scopeflow(args!["qc", src, "--json"]).success();
    let out = dir.mkdir("out").join("aics.ome.zarr");
    let run = scopeflow(args!["convert", src, out]).success();
    assert!(
        out.is_dir(),
        "convert left no OME-Zarr at {}\n{run}",
        out.display()
    );
    assert!(!run.stderr.contains("panicked"), "{run}");
});

/// A copy of sample d whose first tile in the last page is garbage: every IFD and offset is
/// valid, so only decoding finds it, after the conversion has written most of its output.
fn corrupt_tile_in_last_page(dir: &Dir) -> Bad {
    let src = SYNTH_D.path();
    let script = "import sys, tifffile\n\
                  with tifffile.TiffFile(sys.argv[1]) as tf:\n    \
                  p = tf.pages[len(tf.pages) - 1]\n    \
                  print(p.dataoffsets[0], p.databytecounts[0])\n";
    let r = python(args!["-c", script, src]).success();
    let nums: Vec<usize> = r
        .stdout
        .split_whitespace()
        .map(|n| n.parse().expect("number"))
        .collect();
    let (offset, len) = (nums[0], nums[1]);
    let mut b = fs::read(&src).expect("read sample d");
    b[offset..offset + len].fill(0xA5);
    bad(dir, "corrupt_tile.tif", b, CORRUPT_PIXELS)
}

// The damage is in the pixels only: `inspect` need not read them, `qc` and `convert` must fail.
sftest!(convert_corrupt_tile_in_last_page, |dir: Dir| {
    convert_fails(&dir, &corrupt_tile_in_last_page(&dir));
});
sftest!(qc_corrupt_tile_in_last_page, |dir: Dir| {
    qc_fails(&dir, &corrupt_tile_in_last_page(&dir));
});

// The unpatched tiny TIFF is valid, so the failures above come from the damage alone.
sftest!(control_tiny_tiff_is_valid, |dir: Dir| {
    let src = dir.create("tiny.tif", tiny_tiff());
    let run = scopeflow(args!["inspect", src, "--json"]).success();
    let doc = run.stdout_json();
    assert_eq!(
        (&doc["axes"], &doc["shape"], &doc["dtype"]),
        (
            &"YX".into(),
            &serde_json::json!([TINY_H, TINY_W]),
            &"uint16".into()
        ),
        "inspect of the tiny TIFF\n{run}"
    );
    scopeflow(args!["qc", src, "--json"])
        .success()
        .stdout_json();
    let out = dir.join("tiny.ome.zarr");
    scopeflow(args!["convert", src, out]).success();
    validate(&out, &src, None);
});

// ---------------------------------------------------------------------------------------------
// Usage errors: exit 2, nothing written
// ---------------------------------------------------------------------------------------------

fn usage_error(dir: &Dir, command: &[&str]) {
    let src = dir.create("tiny.tif", tiny_tiff());
    let out = dir.join("out.ome.zarr");
    let mut a = Vec::new();
    for part in command {
        match *part {
            "IN" => a.push(src.clone().into_os_string()),
            "OUT" => a.push(out.clone().into_os_string()),
            other => a.push(other.into()),
        }
    }
    let run = scopeflow(a);
    let mut p = Problems::new();
    p.check(run.code() == Some(2), || {
        format!("exit code {:?}, expected 2", run.code())
    });
    p.check(!run.stderr.contains("panicked"), || "it panicked".into());
    p.check(!run.stderr.trim().is_empty(), || {
        "nothing on stderr says what is wrong".into()
    });
    p.check(!exists_at_all(&out), || "an output was written".into());
    p.check(list_dir(dir.path()) == ["tiny.tif"], || {
        format!("files were written: {:?}", list_dir(dir.path()))
    });
    p.finish(&run);
}

mod usage {
    use super::*;

    sftest!(convert_unknown_flag, |dir: Dir| usage_error(
        &dir,
        &["convert", "IN", "OUT", "--frobnicate"]
    ));
    sftest!(convert_ngff_0_3, |dir: Dir| usage_error(
        &dir,
        &["convert", "IN", "OUT", "--ngff", "0.3"]
    ));
    sftest!(convert_codec_foo, |dir: Dir| usage_error(
        &dir,
        &["convert", "IN", "OUT", "--codec", "foo"]
    ));
    sftest!(convert_chunk_yx_zero, |dir: Dir| usage_error(
        &dir,
        &["convert", "IN", "OUT", "--chunk-yx", "0"]
    ));
    sftest!(convert_missing_output, |dir: Dir| usage_error(
        &dir,
        &["convert", "IN"]
    ));
    sftest!(inspect_unknown_flag, |dir: Dir| usage_error(
        &dir,
        &["inspect", "IN", "--frobnicate"]
    ));
    sftest!(qc_unknown_flag, |dir: Dir| usage_error(
        &dir,
        &["qc", "IN", "--frobnicate"]
    ));
    sftest!(no_subcommand, |dir: Dir| usage_error(&dir, &[]));
}
