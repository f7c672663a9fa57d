//! OME-XML parsing against the real samples' truth files and hand-made edge cases.

mod common;
use common::real;
use std::fs::File;

use scopeflow_core::Axis;
use scopeflow_formats::ome::{OmeImage, TiffData, parse_ome_xml};
use scopeflow_formats::units::ngff_unit;
use serde_json::{Value, json};

const SYNTHETIC_B: &str = include_str!("fixtures/synthetic_b.ome.xml");
const SYNTHETIC_G: &str = include_str!("fixtures/synthetic_g.ome.xml");
const LARGEIMG: &str = include_str!("fixtures/cellprofiler_largeimg.ome.xml");

fn truth(name: &str) -> Value {
    let text = std::fs::read_to_string(real(&format!("{name}.truth.json"))).unwrap();
    serde_json::from_str(&text).unwrap()
}

fn description(name: &str) -> String {
    let mut dec = tiff::decoder::Decoder::new(File::open(real(name)).unwrap()).unwrap();
    dec.get_tag_ascii_string(tiff::tags::Tag::ImageDescription)
        .unwrap()
}

/// Axes as tifffile reports them: lead axes squeezed, then YX.
fn squeezed_axes(img: &OmeImage) -> (String, Vec<usize>) {
    let mut axes = String::new();
    let mut shape = Vec::new();
    for (a, n) in img.lead_axes() {
        if n > 1 {
            axes.push(a.letter());
            shape.push(n);
        }
    }
    axes.push_str("YX");
    shape.extend([img.size_y, img.size_x]);
    (axes, shape)
}

/// Physical sizes, unit and channel names as make_truth.py derives them from OME-XML.
fn check_against_truth(img: &OmeImage, t: &Value) {
    let (axes, shape) = squeezed_axes(img);
    assert_eq!(axes, t["axes"].as_str().unwrap());
    let want_shape: Vec<usize> = t["shape"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_u64().unwrap() as usize)
        .collect();
    assert_eq!(shape, want_shape);

    let sizes = [
        ("x", img.physical_size_x, &img.physical_size_x_unit),
        ("y", img.physical_size_y, &img.physical_size_y_unit),
        ("z", img.physical_size_z, &img.physical_size_z_unit),
    ];
    let phys = &t["physical_sizes"];
    for (axis, size, unit) in sizes {
        match phys.get(axis).and_then(Value::as_f64) {
            Some(want) => {
                let got = size.unwrap_or_else(|| panic!("{axis} size missing"));
                assert!((got - want).abs() <= 1e-9 * want, "{axis}: {got} != {want}");
                let unit = unit.as_deref().unwrap();
                assert_eq!(Some(ngff_unit(unit).unwrap()), t["physical_unit"].as_str());
            }
            None => assert_eq!(size, None, "{axis}"),
        }
    }
    let names: Option<Vec<String>> = img.channels.iter().map(|c| c.name.clone()).collect();
    let names = names.filter(|n| !n.is_empty());
    let want: Option<Vec<String>> = serde_json::from_value(t["channel_names"].clone()).unwrap();
    assert_eq!(names, want);
}

#[test]
fn aics_real_file() {
    let xml = description("aics_s_1_t_1_c_1_z_1.ome.tiff");
    assert!(
        xml.len() > 280_000,
        "the annotations are expected to be large"
    );
    let doc = parse_ome_xml(&xml).unwrap();
    assert_eq!(
        doc.creator.as_deref(),
        Some("OME Bio-Formats 6.0.0-SNAPSHOT")
    );
    assert_eq!(
        doc.images.len(),
        1,
        "Image elements inside annotations must not count"
    );
    let img = &doc.images[0];
    check_against_truth(img, &truth("aics_s_1_t_1_c_1_z_1.ome.tiff"));

    assert_eq!(img.id.as_deref(), Some("Image:0"));
    assert_eq!(img.name.as_deref(), Some("s_1_t_1_c_1_z_1.czi #1"));
    assert_eq!(
        img.acquisition_date.as_deref(),
        Some("2019-06-27T18:33:40.619")
    );
    assert_eq!(img.dimension_order, "XYCZT");
    assert_eq!(
        (img.size_x, img.size_y, img.size_z, img.size_c, img.size_t),
        (475, 325, 1, 1, 1)
    );
    assert_eq!(img.pixel_type, "uint16");
    assert_eq!(img.big_endian, Some(false));
    assert_eq!(img.significant_bits, Some(16));
    assert_eq!(img.physical_size_x_unit.as_deref(), Some("\u{b5}m"));
    assert_eq!(img.physical_size_z, None);
    assert_eq!(img.physical_size_z_unit, None);
    assert_eq!(
        img.channels.len(),
        1,
        "CZI Channel elements in annotations must not count"
    );
    let ch = &img.channels[0];
    assert_eq!(ch.samples_per_pixel, Some(1));
    assert_eq!(ch.color, Some(-1));
    assert_eq!(ch.fluor.as_deref(), Some("TL Brightfield"));
    assert_eq!(
        img.tiff_data,
        vec![TiffData {
            ifd: Some(0),
            first_z: Some(0),
            first_c: Some(0),
            first_t: Some(0),
            plane_count: Some(1),
            uuid: Some("urn:uuid:e152bdbd-7239-4d66-9ec1-8ed9cd785712".into()),
            file_name: Some("s_1_t_1_c_1_z_1.ome.tiff".into()),
        }]
    );
    assert_eq!(
        img.instrument,
        Some(json!({
            "id": "Instrument:0",
            "microscope": {"Type": "Inverted"},
            "objectives": [{
                "ID": "Objective:1", "Immersion": "Air", "LensNA": 0.8,
                "Model": "Plan-Apochromat 20x/0.8 M27", "NominalMagnification": 20.0,
                "WorkingDistance": 610.0, "WorkingDistanceUnit": "\u{b5}m"
            }],
            "detectors": [{"ID": "Detector:(Left)", "Model": "HDCamC11440-22C"}]
        }))
    );
    assert_eq!(
        img.objective_settings,
        Some(json!({"ID": "Objective:1", "Medium": "Air", "RefractiveIndex": 1.000293}))
    );
}

#[test]
fn cellprofiler_largeimg_real_file() {
    let xml = description("cellprofiler_largeimg.ome.tiff");
    assert_eq!(xml, LARGEIMG, "fixture must be the file's description");
    let doc = parse_ome_xml(&xml).unwrap();
    assert_eq!(doc.creator.as_deref(), Some("OME Bio-Formats 5.2.0-m4"));
    assert_eq!(
        doc.uuid.as_deref(),
        Some("urn:uuid:041c5802-746a-4c90-859f-c1ff0b58374b")
    );
    let img = &doc.images[0];
    check_against_truth(img, &truth("cellprofiler_largeimg.ome.tiff"));
    assert_eq!(img.name.as_deref(), Some("tubhiswt"));
    assert_eq!(img.dimension_order, "XYZCT");
    assert_eq!(img.pixel_type, "uint8");
    assert_eq!(img.big_endian, Some(true));
    assert_eq!(img.acquisition_date.as_deref(), Some("2013-01-15T17:02:40"));
    assert_eq!(
        img.lead_axes(),
        vec![(Axis::T, 1), (Axis::C, 2), (Axis::Z, 1)]
    );
    assert_eq!(img.plane_count(), Some(2));
    // No PhysicalSize at all: none invented, no unit either.
    assert_eq!(img.physical_size_x, None);
    assert_eq!(img.physical_size_x_unit, None);
    assert_eq!(img.channels.len(), 2);
    assert!(img.channels.iter().all(|c| c.name.is_none()));
    assert_eq!(
        img.tiff_data[0].file_name.as_deref(),
        Some("largeimg.ome.tif")
    );
    assert_eq!(img.tiff_data[0].plane_count, Some(2));
    assert_eq!(img.tiff_data[0].first_c, None);
    // No InstrumentRef: the first (only) instrument.
    let inst = img.instrument.as_ref().unwrap();
    assert_eq!(inst["microscope"]["Model"], "Eclipse TE300");
    assert_eq!(inst["microscope"]["SerialNumber"], "U629762");
    assert_eq!(inst["objectives"][0]["LensNA"], 1.4);
    assert_eq!(
        inst["objectives"][0]["SerialNumber"], "044989",
        "serials stay strings"
    );
    assert_eq!(inst["detectors"].as_array().unwrap().len(), 2);
    assert_eq!(inst["light_sources"][0]["Kind"], "Laser");
    assert_eq!(inst["light_sources"][0]["LaserMedium"], "TiSapphire");
}

#[test]
fn synthetic_b_czyx() {
    let doc = parse_ome_xml(SYNTHETIC_B).unwrap();
    let img = &doc.images[0];
    let t = json!({
        "axes": "CZYX", "shape": [3, 20, 1024, 1024],
        "physical_sizes": {"x": 0.325, "y": 0.325, "z": 1.5},
        "physical_unit": "micrometer",
        "channel_names": ["DAPI", "GFP", "mCherry"]
    });
    check_against_truth(img, &t);
    assert_eq!(img.plane_count(), Some(60));
    assert_eq!(img.tiff_data[0].ifd, Some(0));
    assert_eq!(img.tiff_data[0].plane_count, Some(60));
    assert_eq!(img.instrument, None);
}

#[test]
fn synthetic_g_float_default_unit() {
    let doc = parse_ome_xml(SYNTHETIC_G).unwrap();
    let img = &doc.images[0];
    assert_eq!(img.pixel_type, "float");
    // No PhysicalSize*Unit attributes: the OME default is micrometre.
    assert_eq!(img.physical_size_x_unit.as_deref(), Some("\u{b5}m"));
    let t = json!({
        "axes": "ZYX", "shape": [10, 512, 512],
        "physical_sizes": {"x": 0.5, "y": 0.5, "z": 1.0},
        "physical_unit": "micrometer",
        "channel_names": ["Cy5"]
    });
    check_against_truth(img, &t);
}

#[test]
fn prefixed_namespace_and_old_schema_names() {
    let xml = r#"<?xml version="1.0"?>
<ome:OME xmlns:ome="http://www.openmicroscopy.org/Schemas/OME/2008-02" Creator="old &amp; odd">
  <ome:Image ID="Image:0" Name="a&lt;b">
    <ome:CreationDate>2008-01-02T03:04:05</ome:CreationDate>
    <ome:LogicalChannel ID="LC:0" Name="GFP" SamplesPerPixel="1" EmWave="510" ExWave="488"/>
    <ome:Pixels ID="Pixels:0" DimensionOrder="XYZTC" PixelType="uint8" BigEndian="1"
        SizeX="4" SizeY="3" SizeZ="2" SizeC="1" SizeT="5" PhysicalSizeX="0.1" PhysicalSizeY="0"
        PhysicalSizeZ="-2" TimeIncrement="1.5">
      <ome:TiffData IFD="3" NumPlanes="7"/>
    </ome:Pixels>
  </ome:Image>
</ome:OME>"#;
    let doc = parse_ome_xml(xml).unwrap();
    assert_eq!(doc.creator.as_deref(), Some("old & odd"));
    let img = &doc.images[0];
    assert_eq!(img.name.as_deref(), Some("a<b"));
    assert_eq!(img.acquisition_date.as_deref(), Some("2008-01-02T03:04:05"));
    assert_eq!(img.pixel_type, "uint8");
    assert_eq!(img.big_endian, Some(true));
    assert_eq!(img.physical_size_x, Some(0.1));
    assert_eq!(img.physical_size_y, None, "zero size is absent");
    assert_eq!(img.physical_size_y_unit, None);
    assert_eq!(img.physical_size_z, None, "negative size is absent");
    assert_eq!(img.time_increment, Some(1.5));
    assert_eq!(img.time_increment_unit.as_deref(), Some("s"));
    assert_eq!(img.channels.len(), 1);
    assert_eq!(img.channels[0].name.as_deref(), Some("GFP"));
    assert_eq!(img.channels[0].emission_wavelength, Some(510.0));
    assert_eq!(
        img.channels[0].emission_wavelength_unit.as_deref(),
        Some("nm")
    );
    assert_eq!(img.channels[0].excitation_wavelength, Some(488.0));
    assert_eq!(img.tiff_data[0].ifd, Some(3));
    assert_eq!(img.tiff_data[0].plane_count, Some(7));
    assert_eq!(
        img.lead_axes(),
        vec![(Axis::C, 1), (Axis::T, 5), (Axis::Z, 2)]
    );
}

#[test]
fn instrument_ref_selects_and_rgb_channels() {
    let xml = r#"<OME xmlns="http://www.openmicroscopy.org/Schemas/OME/2016-06">
  <Instrument ID="Instrument:0"><Microscope Model="first"/></Instrument>
  <Instrument ID="Instrument:1"><Microscope Model="second"/>
    <LightEmittingDiode ID="LS:1" Wavelength="470"/></Instrument>
  <Image ID="Image:0"><InstrumentRef ID="Instrument:1"/>
    <Pixels DimensionOrder="XYCZT" Type="uint8" SizeX="8" SizeY="8" SizeZ="1" SizeC="3" SizeT="2"
        PhysicalSizeX="2" PhysicalSizeXUnit="nm">
      <Channel ID="Channel:0:0" SamplesPerPixel="3" Color="4294967295" EmissionWavelength="520.5"
          EmissionWavelengthUnit="nm"/>
    </Pixels>
  </Image>
  <Image ID="Image:1">
    <Pixels DimensionOrder="XYZCT" Type="uint16" SizeX="1" SizeY="1" SizeZ="1" SizeC="1" SizeT="1"/>
  </Image>
</OME>"#;
    let doc = parse_ome_xml(xml).unwrap();
    assert_eq!(doc.images.len(), 2);
    let a = &doc.images[0];
    assert_eq!(
        a.instrument.as_ref().unwrap()["microscope"]["Model"],
        "second"
    );
    assert_eq!(
        a.instrument.as_ref().unwrap()["light_sources"][0],
        json!({"Kind": "LightEmittingDiode", "ID": "LS:1", "Wavelength": 470.0})
    );
    assert_eq!(a.physical_size_x_unit.as_deref(), Some("nm"));
    assert_eq!(a.samples_per_pixel(), 3);
    assert_eq!(
        a.channels[0].color,
        Some(-1),
        "unsigned colour wraps to the signed value"
    );
    assert_eq!(a.channels[0].emission_wavelength, Some(520.5));
    assert_eq!(
        a.lead_axes(),
        vec![(Axis::T, 2), (Axis::Z, 1), (Axis::C, 1)],
        "SizeC counts samples"
    );
    let b = &doc.images[1];
    assert_eq!(
        b.instrument.as_ref().unwrap()["microscope"]["Model"],
        "first"
    );
    assert!(b.channels.is_empty());
    assert!(b.tiff_data.is_empty());
}

#[test]
fn no_images_is_not_an_error() {
    let doc = parse_ome_xml(r#"<OME><BinaryOnly MetadataFile="x.companion.ome" UUID="u"/></OME>"#)
        .unwrap();
    assert!(doc.images.is_empty());
}

#[test]
fn trailing_junk_after_root_is_ignored() {
    let xml = format!("{SYNTHETIC_G}\0\0garbage<");
    assert_eq!(
        parse_ome_xml(&xml).unwrap(),
        parse_ome_xml(SYNTHETIC_G).unwrap()
    );
}

fn err(xml: &str) -> String {
    match parse_ome_xml(xml) {
        Ok(doc) => panic!("expected an error, got {doc:?}"),
        Err(e) => e,
    }
}

const PIXELS_OK: &str =
    r#"DimensionOrder="XYZCT" Type="uint8" SizeX="2" SizeY="2" SizeZ="1" SizeC="1" SizeT="1""#;

#[test]
fn errors_say_what_is_wrong() {
    let e = err(r#"<OME><Image ID="Image:0"><Description>x</Description></Image></OME>"#);
    assert_eq!(e, "no Pixels element in Image 0");

    let bad_size = PIXELS_OK.replace(r#"SizeX="2""#, r#"SizeX="abc""#);
    let e = err(&format!("<OME><Image><Pixels {bad_size}/></Image></OME>"));
    assert!(e.contains("SizeX is not a number: 'abc'"), "{e}");

    let zero = PIXELS_OK.replace(r#"SizeZ="1""#, r#"SizeZ="0""#);
    let e = err(&format!("<OME><Image><Pixels {zero}/></Image></OME>"));
    assert!(e.contains("SizeZ must be at least 1"), "{e}");

    let negative = PIXELS_OK.replace(r#"SizeT="1""#, r#"SizeT="-4""#);
    let e = err(&format!("<OME><Image><Pixels {negative}/></Image></OME>"));
    assert!(e.contains("SizeT must be at least 1"), "{e}");

    let missing = PIXELS_OK.replace(r#"SizeC="1""#, "");
    let e = err(&format!(
        "<OME><Image/><Image><Pixels {missing}/></Image></OME>"
    ));
    assert!(e.contains("no Pixels element in Image 0"), "{e}");
    let e = err(&format!("<OME><Image><Pixels {missing}/></Image></OME>"));
    assert!(e.contains("Image 0: Pixels has no SizeC"), "{e}");

    let order = PIXELS_OK.replace("XYZCT", "ZYXCT");
    let e = err(&format!("<OME><Image><Pixels {order}/></Image></OME>"));
    assert!(e.contains("DimensionOrder 'ZYXCT'"), "{e}");

    let e = err(&format!(
        r#"<OME><Image><Pixels {PIXELS_OK}><TiffData IFD="x"/></Pixels></Image></OME>"#
    ));
    assert!(e.contains("IFD is not a non-negative integer: 'x'"), "{e}");

    assert!(err("<OME><Image><Pixels").contains("malformed"));
    assert!(err("<OME><Image></OME>").contains("malformed"));
    assert_eq!(
        err(&format!("<OME><Image><Pixels {PIXELS_OK}/>")),
        "OME-XML ends inside <Image>"
    );
    assert_eq!(err(""), "no OME root element");
    assert_eq!(err("just text"), "no OME root element");
    assert_eq!(err("<html/>"), "root element is <html>, not <OME>");
    assert!(err(r#"<OME Creator="&bogus;"/>"#).contains("malformed"));
}

#[test]
fn only_first_pixels_and_direct_children_count() {
    let xml = format!(
        r#"<OME><Image ID="Image:0">
  <Pixels {PIXELS_OK}><Channel Name="real"/>
    <Plane TheZ="0"><Channel Name="nested decoy"/></Plane></Pixels>
  <Pixels DimensionOrder="XYZCT" Type="uint8" SizeX="9" SizeY="9" SizeZ="9" SizeC="9" SizeT="9">
    <Channel Name="second pixels"/></Pixels>
</Image>
<StructuredAnnotations><XMLAnnotation><Value>
  <Image><Pixels SizeX="bogus"/><AcquisitionDate>never</AcquisitionDate></Image>
</Value></XMLAnnotation></StructuredAnnotations></OME>"#
    );
    let doc = parse_ome_xml(&xml).unwrap();
    assert_eq!(doc.images.len(), 1);
    let img = &doc.images[0];
    assert_eq!(img.size_x, 2);
    assert_eq!(img.acquisition_date, None);
    let names: Vec<_> = img.channels.iter().map(|c| c.name.as_deref()).collect();
    assert_eq!(names, vec![Some("real")]);
}
