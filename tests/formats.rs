//! The microscope formats beyond TIFF through the real binary: `inspect --json` lists every
//! series, and `convert` writes what `validate_omezarr.py` (which reads each source with its
//! vendor's or an independent Python reader) accepts pixel for pixel, series by series for
//! files with several.

use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::util::*;

/// Where a sample comes from, and the truth file that describes it, if any.
struct Case {
    source: PathBuf,
    truth: Option<PathBuf>,
    /// Whether `validate_omezarr.py` can read this source (its LIF reader, readlif, cannot
    /// read XZ scans and reads wavelength sweeps as single planes; `crates/scopeflow-formats/
    /// tests/lif.rs` compares those with readlif plane by plane instead).
    validated: bool,
}

fn generated(name: &str) -> Case {
    let source = format_samples_dir().join(name);
    let truth = Some(PathBuf::from(format!("{}.truth.json", source.display())));
    Case {
        source,
        truth,
        validated: true,
    }
}

fn real(name: &str) -> Case {
    Case {
        source: real_samples_dir().join(name),
        truth: None,
        validated: !name.starts_with("readlif_"),
    }
}

/// Every generated sample and every real non-TIFF file the readers must open.
fn cases() -> Vec<Case> {
    let mut cases: Vec<Case> = FORMAT_SAMPLES
        .iter()
        .filter(|n| imaris_built() || Path::new(n).extension().is_none_or(|e| e != "ims"))
        .map(|n| generated(n))
        .collect();
    let mut reals = vec![
        "skimage_cell.png",
        "skimage_ihc.png",
        "readlif_LeicaLASX_wavelength-sweep_example.lif",
        "readlif_testdata_2channel_xz.lif",
        "aics_s_1_t_1_c_1_z_1.czi",
        "arcadia_example-cerevisiae.nd2",
        "arcadia_example-multichannel.nd2",
        "arcadia_example-pbmc.nd2",
        "arcadia_example-timelapse.nd2",
        "arcadia_example-zstack.nd2",
    ];
    if imaris_built() {
        reals.push("imariswriter_Minimal_IMS_File.ims");
    }
    cases.extend(reals.into_iter().map(real));
    // Same pixels, channel name and pixel size as the OME-TIFF it was exported to.
    cases
        .iter_mut()
        .filter(|c| c.source.ends_with("aics_s_1_t_1_c_1_z_1.czi"))
        .for_each(|c| {
            c.truth = Some(real_samples_dir().join("aics_s_1_t_1_c_1_z_1.ome.tiff.truth.json"));
        });
    cases
}

/// Whether this binary reads Imaris (the `imaris` cargo feature, on by default; a build
/// without it says so when asked to read one).
fn imaris_built() -> bool {
    let ims = real_samples_dir().join("imariswriter_Minimal_IMS_File.ims");
    let r = scopeflow(args!["inspect", ims, "--json"]);
    !r.stderr.contains("`imaris` feature")
}

fn inspect(source: &Path) -> Value {
    let r = scopeflow(args!["inspect", source, "--json"]);
    assert!(r.status.success(), "inspect {}\n{r}", source.display());
    serde_json::from_str(&r.stdout).unwrap_or_else(|e| panic!("inspect --json: {e}\n{r}"))
}

fn series_count(doc: &Value) -> usize {
    doc["series"].as_array().map_or(1, |s| s.len().max(1))
}

#[test]
fn every_format_converts_and_validates() {
    let mut failures = Vec::new();
    for case in cases() {
        let dir = Dir::new(&format!(
            "formats-{}",
            case.source.file_name().unwrap().to_string_lossy()
        ));
        let doc = inspect(&case.source);
        let n = series_count(&doc);
        let out = dir.path().join("out.ome.zarr");
        let r = scopeflow(args!["convert", &case.source, &out, "--quiet"]);
        if !r.status.success() {
            failures.push(format!("convert {}\n{r}", case.source.display()));
            continue;
        }
        for series in (0..n).filter(|_| case.validated) {
            let mut a = args![
                tool("validate_omezarr.py"),
                "--zarr",
                &out,
                "--source",
                &case.source
            ];
            if n > 1 {
                a.extend(args!["--series", series.to_string()]);
            }
            // A truth file describes series 0 at its top level.
            if let Some(t) = case.truth.as_ref().filter(|_| series == 0) {
                a.extend(args!["--truth", t]);
            }
            let v = python(a);
            if v.stdout_last_line() != Some("validate: OK") {
                failures.push(format!(
                    "{} series {series}: validate_omezarr.py\n{v}",
                    case.source.display()
                ));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

#[test]
fn inspect_lists_every_series() {
    for (name, want) in [("r_czi_2scenes_tyx_u16.czi", 2), ("w_lif_2series.lif", 2)] {
        let case = generated(name);
        let doc = inspect(&case.source);
        let truth = read_json(case.truth.as_ref().unwrap());
        let series = doc["series"].as_array().expect("series[]");
        assert_eq!(series.len(), want, "{name}: {doc}");
        for (ours, theirs) in series.iter().zip(truth["series"].as_array().unwrap()) {
            assert_eq!(ours["axes"], theirs["axes"], "{name}");
            assert_eq!(ours["shape"], theirs["shape"], "{name}");
            assert_eq!(ours["dtype"], theirs["dtype"], "{name}");
        }
    }
}

#[test]
fn a_jpeg_converts_to_the_pixels_libjpeg_gives() {
    let dir = Dir::new("formats-jpeg");
    let jpg = dir.path().join("camera.jpg");
    let r = python(args![
        "-c",
        "import sys, numpy as np, imageio.v3 as iio\n\
         rng = np.random.default_rng(3)\n\
         iio.imwrite(sys.argv[1], rng.integers(0, 256, (300, 420, 3), dtype=np.uint8), quality=85)",
        &jpg
    ]);
    assert!(r.status.success(), "{r}");
    let out = dir.path().join("camera.ome.zarr");
    let c = scopeflow(args!["convert", &jpg, &out, "--quiet"]);
    assert!(c.status.success(), "{c}");
    validate(&out, &jpg, None);
}
