//! The `ImageDocument` XML of the metadata segment, reduced to what a converter needs.
//!
//! Elements are matched by their full path under the root: ZEN writes the same element names
//! (`Channel`, `Objective`, `Distance`) in many other places (experiment setups, hardware
//! settings, a Z-stack's first and last positions), and only the ones under
//! `Metadata/Information` and `Metadata/Scaling` describe the image.

use quick_xml::events::{BytesStart, Event};
use serde_json::{Map, Value};

const IMAGE: &[&str] = &["ImageDocument", "Metadata", "Information", "Image"];
const CHANNEL: &[&str] = &[
    "ImageDocument",
    "Metadata",
    "Information",
    "Image",
    "Dimensions",
    "Channels",
    "Channel",
];
const SCENE: &[&str] = &[
    "ImageDocument",
    "Metadata",
    "Information",
    "Image",
    "Dimensions",
    "S",
    "Scenes",
    "Scene",
];
const INSTRUMENT: &[&str] = &["ImageDocument", "Metadata", "Information", "Instrument"];
const DISTANCE: &[&str] = &["ImageDocument", "Metadata", "Scaling", "Items", "Distance"];

/// What the metadata XML says about the image.
#[derive(Clone, Debug, Default, PartialEq)]
pub(crate) struct CziXml {
    /// One per `Channel` of the image, in order; `None` where the channel has no name.
    pub channel_names: Vec<Option<String>>,
    /// Scene names by scene index, where the document lists them.
    pub scene_names: Vec<Option<String>>,
    /// Metres per pixel along X, Y, Z, as written (checked to be a positive number).
    pub scaling: [Option<String>; 3],
    pub acquired: Option<String>,
    pub microscope: Option<Map<String, Value>>,
    pub objectives: Vec<Value>,
    /// Small scalar facts for the metadata summary (pixel type, sizes, application, title).
    pub summary: Map<String, Value>,
}

#[derive(Default)]
struct Parser {
    stack: Vec<String>,
    text: String,
    doc: CziXml,
    distance_axis: Option<usize>,
    objective: Option<Map<String, Value>>,
}

impl Parser {
    fn at(&self, path: &[&str]) -> bool {
        self.stack.len() == path.len() && self.stack.iter().zip(path).all(|(a, b)| a == b)
    }

    fn under(&self, path: &[&str]) -> bool {
        self.stack.len() > path.len() && self.stack.iter().zip(path).all(|(a, b)| a == b)
    }

    fn open(&mut self, e: &BytesStart, name: String) {
        self.stack.push(name);
        self.text.clear();
        if self.at(CHANNEL) {
            self.doc
                .channel_names
                .push(attr(e, "Name").filter(|n| !n.is_empty()));
        } else if self.at(SCENE) {
            let index = attr(e, "Index").and_then(|i| i.parse::<usize>().ok());
            let index = index.unwrap_or(self.doc.scene_names.len()).min(1 << 16);
            if self.doc.scene_names.len() <= index {
                self.doc.scene_names.resize(index + 1, None);
            }
            self.doc.scene_names[index] = attr(e, "Name").filter(|n| !n.is_empty());
        } else if self.at(DISTANCE) {
            self.distance_axis = match attr(e, "Id").as_deref() {
                Some("X") => Some(0),
                Some("Y") => Some(1),
                Some("Z") => Some(2),
                _ => None,
            };
        } else if self.stack.len() == INSTRUMENT.len() + 2 && self.under(INSTRUMENT) {
            let group = self.stack[INSTRUMENT.len()].as_str();
            let item = self.stack[INSTRUMENT.len() + 1].as_str();
            match (group, item) {
                ("Microscopes", "Microscope") if self.doc.microscope.is_none() => {
                    self.doc.microscope = Some(attrs(e));
                }
                ("Objectives", "Objective") => self.objective = Some(attrs(e)),
                _ => {}
            }
        }
    }

    fn close(&mut self) {
        let text = self.text.trim().to_string();
        let depth = self.stack.len();
        if depth == IMAGE.len() + 1 && self.under(IMAGE) {
            let name = self.stack[depth - 1].as_str();
            match name {
                "AcquisitionDateAndTime" if !text.is_empty() => {
                    self.doc.acquired = Some(text.clone())
                }
                "PixelType" | "ComponentBitCount" | "OriginalCompressionMethod" => {
                    self.doc
                        .summary
                        .insert(name.to_string(), Value::String(text.clone()));
                }
                n if n.starts_with("Size") && n.len() == 5 => {
                    if let Ok(v) = text.parse::<u64>() {
                        self.doc.summary.insert(name.to_string(), v.into());
                    }
                }
                _ => {}
            }
        } else if self.stack.len() == DISTANCE.len() + 1 && self.under(DISTANCE) {
            if self.stack[depth - 1] == "Value"
                && let Some(axis) = self.distance_axis
                && let Ok(v) = text.parse::<f64>()
                && v.is_finite()
                && v > 0.0
            {
                self.doc.scaling[axis] = Some(text.clone());
            }
        } else if depth == 5 && self.stack[..3] == ["ImageDocument", "Metadata", "Information"] {
            let key = format!("{}{}", self.stack[3], self.stack[4]);
            if matches!(
                key.as_str(),
                "ApplicationName" | "ApplicationVersion" | "DocumentTitle"
            ) && !text.is_empty()
            {
                self.doc.summary.insert(key, Value::String(text.clone()));
            }
        } else if depth == INSTRUMENT.len() + 3
            && self.under(INSTRUMENT)
            && self.stack[INSTRUMENT.len() + 1] == "Objective"
            && let Some(obj) = self.objective.as_mut()
        {
            let name = self.stack[depth - 1].clone();
            if matches!(
                name.as_str(),
                "LensNA" | "NominalMagnification" | "Immersion" | "Manufacturer"
            ) && !text.is_empty()
            {
                let value = text
                    .parse::<f64>()
                    .map_or(Value::String(text.clone()), Value::from);
                obj.insert(name, value);
            }
        } else if depth == INSTRUMENT.len() + 2
            && self.under(INSTRUMENT)
            && self.stack[INSTRUMENT.len() + 1] == "Objective"
            && let Some(obj) = self.objective.take()
        {
            self.doc.objectives.push(Value::Object(obj));
        }
        self.stack.pop();
        self.text.clear();
    }
}

fn attr(e: &BytesStart, key: &str) -> Option<String> {
    e.attributes().flatten().find_map(|a| {
        (a.key.local_name().as_ref() == key)
            .then(|| {
                a.normalized_value(quick_xml::XmlVersion::Implicit1_0)
                    .ok()
                    .map(|v| v.into_owned())
            })
            .flatten()
    })
}

fn attrs(e: &BytesStart) -> Map<String, Value> {
    let mut m = Map::new();
    for a in e.attributes().flatten() {
        let key = a.key.local_name().as_ref().to_string();
        if let Ok(v) = a.normalized_value(quick_xml::XmlVersion::Implicit1_0)
            && !v.is_empty()
        {
            m.insert(key, Value::String(v.into_owned()));
        }
    }
    m
}

/// Parses the document; malformed XML is an error with its byte position.
pub(crate) fn parse(xml: &str) -> Result<CziXml, String> {
    let mut reader = crate::xml::reader(xml);
    let mut p = Parser::default();
    loop {
        let event = crate::xml::next_event(&mut reader, "metadata XML")?;
        match event {
            Event::Start(e) => {
                let name = e.local_name().as_ref().to_string();
                p.open(&e, name);
            }
            Event::Empty(e) => {
                let name = e.local_name().as_ref().to_string();
                p.open(&e, name);
                p.close();
            }
            Event::End(_) => p.close(),
            Event::Text(t) => p.text.push_str(&t.xml10_content()),
            Event::CData(t) => p.text.push_str(&t.xml10_content()),
            Event::GeneralRef(r) => {
                let name = r.xml10_content();
                if let Ok(Some(c)) = r.resolve_char_ref() {
                    p.text.push(c);
                } else if let Some(s) = quick_xml::escape::resolve_predefined_entity(&name) {
                    p.text.push_str(s);
                }
            }
            Event::Eof => break,
            _ => {}
        }
    }
    Ok(p.doc)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_image_elements_count() {
        let xml = r#"<ImageDocument><Metadata>
          <Experiment><Channel Name="setup, not the image"/></Experiment>
          <Information>
            <Image><AcquisitionDateAndTime>2020-01-02T03:04:05Z</AcquisitionDateAndTime>
              <Dimensions>
                <Channels><Channel Id="Channel:0" Name="DAPI"/><Channel Id="Channel:1"/></Channels>
                <S><Scenes><Scene Index="1" Name="Well B2"/><Scene Index="0" Name="Well A1"/></Scenes></S>
              </Dimensions>
            </Image>
            <Instrument>
              <Microscopes><Microscope Id="M:1" Name="Axio"/></Microscopes>
              <Objectives><Objective Id="O:1" Name="Plan 20x"><LensNA>0.8</LensNA><Immersion>Air</Immersion></Objective></Objectives>
            </Instrument>
          </Information>
          <Scaling><Items><Distance Id="X"><Value>1.5E-07</Value></Distance>
            <Distance Id="Z"><Value>0</Value></Distance></Items></Scaling>
          <Other><Distance Id="Y"><Value>9</Value></Distance></Other>
        </Metadata></ImageDocument>"#;
        let doc = parse(xml).unwrap();
        assert_eq!(doc.channel_names, vec![Some("DAPI".to_string()), None]);
        assert_eq!(
            doc.scene_names,
            vec![Some("Well A1".to_string()), Some("Well B2".to_string())]
        );
        assert_eq!(doc.scaling, [Some("1.5E-07".to_string()), None, None]);
        assert_eq!(doc.acquired.as_deref(), Some("2020-01-02T03:04:05Z"));
        assert_eq!(doc.microscope.unwrap()["Name"], "Axio");
        assert_eq!(doc.objectives[0]["LensNA"], 0.8);
        assert_eq!(doc.objectives[0]["Immersion"], "Air");
    }

    #[test]
    fn malformed_xml_is_an_error() {
        assert!(parse("<ImageDocument><Metadata></Image>").is_err());
    }
}
