//! ImageJ description and IJMetadata parsing, checked against tifffile's view of the samples.

mod common;
use common::real;
use std::fs::File;

use scopeflow_core::Axis;
use scopeflow_formats::imagej::{parse_ij_metadata, parse_imagej_description};
use scopeflow_formats::units::ngff_unit;
use serde_json::{Value, json};
use tiff::tags::Tag;

fn decoder(name: &str) -> tiff::decoder::Decoder<File> {
    tiff::decoder::Decoder::new(File::open(real(name)).unwrap()).unwrap()
}

/// IJMetadataByteCounts and IJMetadata of the first IFD, read the way a reader should: the
/// counts as LONGs, the blob as raw bytes (a `Value::List` of a 1 MB blob would be wasteful).
fn ij_tags(name: &str) -> (Vec<u32>, Vec<u8>, bool) {
    let mut dec = decoder(name);
    let big_endian = dec.byte_order() == tiff::tags::ByteOrder::BigEndian;
    let counts = dec.get_tag_u32_vec(Tag::Unknown(50838)).unwrap();
    let mut ifd = dec.image_ifd();
    let len = ifd.find_entry(Tag::Unknown(50839)).unwrap().count() as usize;
    let mut data = vec![0u8; len];
    let read = ifd
        .find_tag_bytes(Tag::Unknown(50839), &mut data, 0)
        .unwrap()
        .unwrap();
    assert_eq!(read, len);
    (counts, data, big_endian)
}

fn axes(v: &[(Axis, usize)]) -> String {
    v.iter().map(|(a, _)| a.letter()).collect()
}

fn sizes(v: &[(Axis, usize)]) -> Vec<usize> {
    v.iter().map(|&(_, n)| n).collect()
}

#[test]
fn synthetic_c_hyperstack() {
    let info = parse_imagej_description(include_str!("fixtures/synthetic_c.imagej.txt")).unwrap();
    assert_eq!(info.version, "1.11a");
    assert_eq!(info.images, Some(48));
    assert_eq!(
        (info.channels, info.slices, info.frames),
        (Some(2), Some(8), Some(3))
    );
    assert!(info.hyperstack);
    assert_eq!(info.mode.as_deref(), Some("grayscale"));
    assert_eq!(info.spacing, Some(2.0));
    assert_eq!(info.finterval, Some(5.0));
    assert_eq!(info.unit.as_deref(), Some("um"));
    assert_eq!(ngff_unit(info.unit.as_deref().unwrap()), Some("micrometer"));
    assert_eq!(info.other.get("loop"), Some(&Value::Bool(false)));
    assert!(!info.other.contains_key("spacing"));
    let lead = info.lead_axes(48);
    assert_eq!(axes(&lead), "TZC");
    assert_eq!(sizes(&lead), vec![3, 8, 2]);
}

#[test]
fn bbbc022_channels_only() {
    let desc = decoder("bbbc022_IXMtest_A02_s9.tif")
        .get_tag_ascii_string(Tag::ImageDescription)
        .unwrap();
    // tifffile strips the trailing newline ImageJ writes; the fixture is tifffile's string.
    assert_eq!(desc.trim_end(), include_str!("fixtures/bbbc022.imagej.txt"));
    let info = parse_imagej_description(&desc).unwrap();
    assert_eq!(info.version, "1.53c");
    assert_eq!(info.mode.as_deref(), Some("composite"));
    assert_eq!((info.min, info.max), (Some(124.0), Some(1875.0)));
    assert_eq!(info.unit, None);
    // Truth: CYX (3, 395, 695).
    let lead = info.lead_axes(3);
    assert_eq!(axes(&lead), "C");
    assert_eq!(sizes(&lead), vec![3]);
}

#[test]
fn bbbc022_ij_metadata_labels() {
    let (counts, data, big_endian) = ij_tags("bbbc022_IXMtest_A02_s9.tif");
    assert!(big_endian);
    let meta = parse_ij_metadata(&counts, &data, big_endian);
    assert_eq!(
        meta["Labels"],
        json!([
            "IXMtest_A02_s9_c1.tif",
            "IXMtest_A02_s9_c2.tif",
            "IXMtest_A02_s9_c3.tif"
        ])
    );
    assert_eq!(
        meta["Ranges"],
        json!([124.0, 1875.0, 156.0, 1794.0, 124.0, 4095.0])
    );
    let luts = meta["LUTs"].as_array().unwrap();
    assert_eq!(luts.len(), 3);
    assert_eq!(luts[0].as_array().unwrap().len(), 768);
    // First LUT is red: its red ramp ends at 255, its green ramp is all 0.
    assert_eq!(luts[0][255], 255);
    assert_eq!(luts[0][256 + 255], 0);
}

#[test]
fn aics_minimal_description_and_info() {
    let desc = decoder("aics_s_1_t_1_c_1_z_1.tiff")
        .get_tag_ascii_string(Tag::ImageDescription)
        .unwrap();
    let info = parse_imagej_description(&desc).unwrap();
    assert_eq!(info.version, "1.52o");
    assert_eq!(info.unit.as_deref(), Some("micron"));
    assert_eq!(ngff_unit("micron"), Some("micrometer"));
    assert!(!info.hyperstack);
    assert!(info.lead_axes(1).is_empty(), "truth: YX");

    let (counts, data, big_endian) = ij_tags("aics_s_1_t_1_c_1_z_1.tiff");
    let meta = parse_ij_metadata(&counts, &data, big_endian);
    let text = meta["Info"].as_str().unwrap();
    assert_eq!(
        text.chars().count(),
        441_979,
        "same length as tifffile's Info"
    );
}

#[test]
fn maize_version_only() {
    let info = parse_imagej_description(include_str!("fixtures/maize.imagej.txt")).unwrap();
    assert_eq!(info.version, "1.53c");
    assert_eq!(info.images, None);
    assert!(info.lead_axes(1).is_empty(), "truth: YX");
    assert!(info.other.is_empty());
}

#[test]
fn not_imagej() {
    assert!(parse_imagej_description(r#"{"shape": [48, 130, 130]}"#).is_none());
    assert!(parse_imagej_description(" ImageJ=1.5").is_none());
    assert!(parse_imagej_description("").is_none());
    assert!(parse_imagej_description("<OME/>").is_none());
}

#[test]
fn images_only_counts_pages_like_tifffile() {
    let info = parse_imagej_description("ImageJ=1.53t\nimages=48\n").unwrap();
    assert_eq!(info.lead_axes(48), vec![(Axis::Z, 48)]);
    assert_eq!(info.lead_axes(1), vec![]);
    // A plain stack written by ImageJ.
    let info = parse_imagej_description("ImageJ=1.53t\nimages=5\nslices=5\nloop=false").unwrap();
    assert_eq!(info.lead_axes(5), vec![(Axis::Z, 5)]);
    // Single-IFD file over 4 GiB: sizes from the description, not the page count.
    let info = parse_imagej_description("ImageJ=1.53t\nimages=6\nframes=3\nchannels=2").unwrap();
    assert_eq!(info.lead_axes(1), vec![(Axis::T, 3), (Axis::C, 2)]);
}

#[test]
fn invalid_counts_fall_back_to_page_sequence() {
    let info = parse_imagej_description("ImageJ=1.53t\nimages=4\nchannels=0\nslices=4").unwrap();
    assert_eq!(info.channels, Some(0));
    assert_eq!(info.lead_axes(4), vec![(Axis::Z, 4)]);
    let info = parse_imagej_description("ImageJ=1.53t\nslices=-3").unwrap();
    assert_eq!(info.slices, Some(0));
    let info = parse_imagej_description("ImageJ=1.53t\nslices=many\nchannels=2.5").unwrap();
    assert_eq!(info.slices, None);
    assert_eq!(info.other["slices"], "many");
    assert_eq!(info.other["channels"], 2.5);
    assert_eq!(info.lead_axes(2), vec![(Axis::Z, 2)]);
}

#[test]
fn rgb_channels_are_samples() {
    let info = parse_imagej_description("ImageJ=1.53t\nimages=4\nchannels=3\nframes=4").unwrap();
    assert_eq!(info.lead_axes_with_samples(4, 3), vec![(Axis::T, 4)]);
    assert_eq!(
        info.lead_axes_with_samples(12, 1),
        vec![(Axis::T, 4), (Axis::C, 3)]
    );
}

#[test]
fn order_key_and_typing() {
    let info = parse_imagej_description(
        "ImageJ=1.53t\r\nchannels=2\r\nslices=3\r\norder=zct\r\nunit=\\u00B5m\r\nxorigin=1.5\r\n\
         cf=0\r\nvunit=Gray Value\r\nnonsense line\r\nfps=inf\r\nspacing=0.5",
    )
    .unwrap();
    assert_eq!(
        info.lead_axes(6),
        vec![(Axis::C, 2), (Axis::Z, 3)],
        "zct: Z fastest"
    );
    assert_eq!(ngff_unit(info.unit.as_deref().unwrap()), Some("micrometer"));
    assert_eq!(info.other["xorigin"], 1.5);
    assert_eq!(info.other["cf"], 0);
    assert_eq!(info.other["vunit"], "Gray Value");
    assert_eq!(info.other["fps"], "inf", "non-finite floats stay strings");
    assert_eq!(info.spacing, Some(0.5));
    assert_eq!(info.other.get("order"), None);
}

#[test]
fn scifio_counts_as_imagej() {
    let info = parse_imagej_description("SCIFIO=0.42.0\nimages=2\nslices=2").unwrap();
    assert_eq!(info.version, "0.42.0");
    assert_eq!(info.lead_axes(2), vec![(Axis::Z, 2)]);
}

#[test]
fn ij_metadata_little_endian_and_garbage() {
    // Header "JIJI" + ("ofni", 1) + ("lbal", 2): bytes in little-endian order.
    fn utf16le(s: &str) -> Vec<u8> {
        s.encode_utf16().flat_map(|u| u.to_le_bytes()).collect()
    }
    let mut data = b"JIJI".to_vec();
    data.extend(b"ofni");
    data.extend(1u32.to_le_bytes());
    data.extend(b"lbal");
    data.extend(2u32.to_le_bytes());
    data.extend(b"porp");
    data.extend(2u32.to_le_bytes());
    let header = data.len() as u32;
    let bodies = [
        utf16le("info text"),
        utf16le("DAPI"),
        utf16le("GFP"),
        utf16le("k"),
        utf16le("v"),
    ];
    let mut counts = vec![header];
    for b in &bodies {
        counts.push(b.len() as u32);
        data.extend(b);
    }
    let meta = parse_ij_metadata(&counts, &data, false);
    assert_eq!(meta["Info"], "info text");
    assert_eq!(meta["Labels"], json!(["DAPI", "GFP"]));
    assert_eq!(meta["Properties"], json!({"k": "v"}));

    // Truncated body (inside the "k" block): what fits is kept, nothing panics.
    let cut = &data[..data.len() - 3];
    let meta = parse_ij_metadata(&counts, cut, false);
    assert_eq!(meta["Info"], "info text");
    assert_eq!(meta["Labels"], json!(["DAPI", "GFP"]));
    assert!(!meta.contains_key("Properties"));

    assert!(parse_ij_metadata(&[], &data, false).is_empty());
    assert!(parse_ij_metadata(&counts, b"XXXX", false).is_empty());
    assert!(parse_ij_metadata(&[4], &data, false).is_empty());
    assert!(parse_ij_metadata(&[u32::MAX, u32::MAX], &data, false).is_empty());
    let huge = [header, u32::MAX, u32::MAX, u32::MAX];
    let _ = parse_ij_metadata(&huge, &data, false);
}
