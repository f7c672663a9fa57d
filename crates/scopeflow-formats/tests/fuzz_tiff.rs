//! Property test of the TIFF parsing: small valid files (strips, tiles of uncompressed, LZW,
//! Deflate and PackBits data, classic and BigTIFF, ImageJ and OME descriptions) with random
//! bytes overwritten and random truncations must open and read without panicking, and any
//! error must name the file. Bounded: 256 cases.

use std::io::Cursor;

mod common;
use common::read_everything;

use proptest::prelude::*;
use tiff::encoder::{Compression, TiffEncoder, colortype};
use tiff::tags::Tag;

const OME: &str = r#"<?xml version="1.0" encoding="UTF-8"?><OME xmlns="http://www.openmicroscopy.org/Schemas/OME/2016-06"><Image ID="Image:0"><Pixels ID="Pixels:0" DimensionOrder="XYZCT" Type="uint16" SizeX="40" SizeY="33" SizeZ="1" SizeC="3" SizeT="1" PhysicalSizeX="0.5"><Channel ID="Channel:0:0" Name="DAPI"/><Channel ID="Channel:0:1" Name="GFP"/><Channel ID="Channel:0:2" Name="Cy5"/><TiffData IFD="0" PlaneCount="3"/></Pixels></Image></OME>"#;

fn sample(variant: u8) -> Vec<u8> {
    let (w, h, pages) = (40u32, 33u32, 3usize);
    let compression = match variant % 4 {
        0 => Compression::Uncompressed,
        1 => Compression::Lzw,
        2 => Compression::Deflate(tiff::encoder::DeflateLevel::Fast),
        _ => Compression::Packbits,
    };
    let description = match variant / 4 % 3 {
        0 => None,
        1 => Some("ImageJ=1.53c\nimages=3\nchannels=3\nhyperstack=true\nunit=micron\n"),
        _ => Some(OME),
    };
    let mut out = Cursor::new(Vec::new());
    let big = variant / 12 % 2 == 1;
    let pixels: Vec<u16> = (0..w * h).map(|i| (i * 37 % 4096) as u16).collect();
    macro_rules! write_pages {
        ($enc:expr) => {{
            let mut enc = $enc.with_compression(compression);
            for p in 0..pages {
                let mut img = enc.new_image::<colortype::Gray16>(w, h).unwrap();
                img.rows_per_strip(7).unwrap();
                if p == 0
                    && let Some(d) = description
                {
                    img.encoder().write_tag(Tag::ImageDescription, d).unwrap();
                }
                img.write_data(&pixels).unwrap();
            }
        }};
    }
    if big {
        write_pages!(TiffEncoder::new_big(&mut out).unwrap());
    } else {
        write_pages!(TiffEncoder::new(&mut out).unwrap());
    }
    out.into_inner()
}

#[test]
fn unmutated_samples_read_back_their_pixels() {
    let dir = tempfile::tempdir().unwrap();
    for variant in 0..24 {
        let path = dir.path().join(format!("v{variant}.tif"));
        std::fs::write(&path, sample(variant)).unwrap();
        let src =
            scopeflow_formats::open(&path).unwrap_or_else(|e| panic!("variant {variant}: {e}"));
        assert_eq!(src.meta().height(), 33);
        assert_eq!(src.meta().width(), 40);
        assert_eq!(
            scopeflow_formats::plane_count(src.meta()),
            3,
            "variant {variant}"
        );
        let mut band = vec![0u8; 40 * 2 * 5];
        src.read_rows(
            &scopeflow_formats::plane_index(src.meta(), 2),
            10,
            15,
            &mut band,
        )
        .unwrap();
        let want: Vec<u8> = (400u32..600)
            .flat_map(|i| ((i * 37 % 4096) as u16).to_le_bytes())
            .collect();
        assert_eq!(band, want, "variant {variant}");
        scopeflow_formats::conformance::bands_concatenate_to_plane(src.as_ref()).unwrap();
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn mutated_tiffs_fail_cleanly(
        variant in 0u8..24,
        edits in prop::collection::vec((0.0f64..1.0, any::<u8>()), 0..12),
        header_bias in any::<bool>(),
        cut in prop::option::of(0.0f64..1.0),
    ) {
        let mut bytes = sample(variant);
        let len = bytes.len();
        for (at, value) in edits {
            // Half the cases aim at the first 512 bytes, where the header and IFDs live.
            let span = if header_bias { len.min(512) } else { len };
            let i = ((at * span as f64) as usize).min(len - 1);
            bytes[i] = value;
        }
        if let Some(c) = cut {
            bytes.truncate((c * len as f64) as usize);
        }
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("mutated.tif");
        std::fs::write(&path, &bytes).unwrap();
        if let Err(e) = read_everything(&path, 16) {
            prop_assert!(e.contains("mutated.tif"), "error does not name the file: {e}");
        }
    }
}
