//! Metadata parsers get untrusted text from files: they must return, never panic.

use proptest::prelude::*;
use scopeflow_formats::imagej::parse_imagej_description;
use scopeflow_formats::ome::parse_ome_xml;

const REAL_OME: &str = include_str!("fixtures/cellprofiler_largeimg.ome.xml");
const SYNTHETIC_OME: &str = include_str!("fixtures/synthetic_b.ome.xml");

fn check_ome(xml: &str) {
    if let Ok(doc) = parse_ome_xml(xml) {
        for img in &doc.images {
            for n in [img.size_x, img.size_y, img.size_z, img.size_c, img.size_t] {
                assert!(n >= 1);
            }
            assert!(img.lead_axes().iter().all(|&(_, n)| n >= 1));
            let _ = img.plane_count();
            for s in [
                img.physical_size_x,
                img.physical_size_y,
                img.physical_size_z,
            ] {
                assert!(s.is_none_or(|v| v.is_finite() && v > 0.0));
            }
        }
    }
}

/// Edits of a real document: replace a byte range with something XML-ish or random.
fn mutated(base: &'static str) -> impl Strategy<Value = String> {
    let fragments = prop_oneof![
        Just(String::new()),
        Just("<".to_string()),
        Just(">".to_string()),
        Just("\"".to_string()),
        Just("&".to_string()),
        Just("&amp;".to_string()),
        Just("0".to_string()),
        Just("-1".to_string()),
        Just("</Pixels>".to_string()),
        Just("<Pixels>".to_string()),
        Just("<Image>".to_string()),
        Just(" SizeX=\"\"".to_string()),
        Just("\u{b5}".to_string()),
        ".{0,12}",
    ];
    let len = base.len();
    proptest::collection::vec((0..len, 0..24usize, fragments), 1..6).prop_map(move |edits| {
        let mut s = base.to_string();
        for (at, del, with) in edits {
            let mut start = at.min(s.len());
            while !s.is_char_boundary(start) {
                start -= 1;
            }
            let mut end = (start + del).min(s.len());
            while !s.is_char_boundary(end) {
                end += 1;
            }
            s.replace_range(start..end, &with);
        }
        s
    })
}

/// Attribute values in a valid skeleton, to reach the number parsing.
fn ome_with_values() -> impl Strategy<Value = String> {
    let value = prop_oneof![
        "[0-9]{1,25}",
        "-?[0-9]{0,5}\\.?[0-9]{0,5}(e-?[0-9]{1,3})?",
        Just("NaN".to_string()),
        Just("inf".to_string()),
        ".{0,6}",
    ];
    (
        proptest::collection::vec(value, 12),
        "[XYZCT]{0,6}",
    )
        .prop_map(|(v, order)| {
            let v: Vec<String> = v.into_iter().map(|s| s.replace(['"', '<', '&'], "")).collect();
            format!(
                r#"<OME><Image><Pixels DimensionOrder="{order}" SizeX="{}" SizeY="{}" SizeZ="{}"
 SizeC="{}" SizeT="{}" PhysicalSizeX="{}" PhysicalSizeY="{}" PhysicalSizeZ="{}"
 TimeIncrement="{}"><Channel SamplesPerPixel="{}" Color="{}"/><TiffData IFD="{}"/></Pixels></Image></OME>"#,
                v[0], v[1], v[2], v[3], v[4], v[5], v[6], v[7], v[8], v[9], v[10], v[11]
            )
        })
}

fn imagej_lines() -> impl Strategy<Value = String> {
    let key = prop_oneof![
        Just("images"),
        Just("channels"),
        Just("slices"),
        Just("frames"),
        Just("hyperstack"),
        Just("unit"),
        Just("spacing"),
        Just("finterval"),
        Just("order"),
        Just("min"),
        Just("max"),
        Just("mode"),
        Just("x"),
    ];
    let value = prop_oneof![
        "-?[0-9]{1,22}",
        "-?[0-9]{0,4}\\.[0-9]{0,4}",
        Just("true".to_string()),
        Just("nan".to_string()),
        Just("czt".to_string()),
        Just("zct".to_string()),
        ".{0,8}",
    ];
    let sep = prop_oneof![Just("\n"), Just("\r\n"), Just("\r"), Just("\u{2028}")];
    proptest::collection::vec((key, value, sep), 0..12).prop_map(|lines| {
        let mut s = "ImageJ=1.53t\n".to_string();
        for (k, v, sep) in lines {
            s.push_str(&format!("{k}={v}{sep}"));
        }
        s
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn ome_random_strings(s in ".{0,300}") {
        check_ome(&s);
        let _ = parse_imagej_description(&s);
    }

    #[test]
    fn ome_mutated_real(xml in mutated(REAL_OME)) {
        check_ome(&xml);
    }

    #[test]
    fn ome_mutated_synthetic(xml in mutated(SYNTHETIC_OME)) {
        check_ome(&xml);
    }

    #[test]
    fn ome_random_values(xml in ome_with_values()) {
        check_ome(&xml);
    }

    #[test]
    fn imagej_random(desc in imagej_lines(), pages in 0usize..1000, spp in 0usize..5) {
        let info = parse_imagej_description(&desc).unwrap();
        for (_, n) in info.lead_axes_with_samples(pages, spp) {
            prop_assert!(n > 1);
        }
        let _ = parse_imagej_description(&format!("ImageJ={desc}"));
    }

    #[test]
    fn imagej_random_strings(s in "(ImageJ=)?.{0,200}") {
        if let Some(info) = parse_imagej_description(&s) {
            let _ = info.lead_axes(3);
        }
    }
}
