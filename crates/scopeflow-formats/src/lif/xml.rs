//! The parts of the LIF XML header a reader needs, in one streaming pass.
//!
//! The header is a tree of `Element`s (folders and images, nested through `Children`); an
//! element with `Data/Image` is an image. Only what describes pixels and a short summary is kept
//! (channels, dimensions, memory block, first time stamp, microscope and objective): the header
//! also holds megabytes of hardware settings that nothing downstream needs.

use quick_xml::events::{BytesStart, Event};

use crate::xml::{Attrs, attributes, get, next_event, reader};

/// Bounds on what one image may declare, far above real files, so that a damaged header cannot
/// make the reader allocate or loop without limit.
const MAX_CHANNELS: usize = 4096;
const MAX_DIMS: usize = 32;

#[derive(Clone, Debug, Default)]
pub(super) struct ChannelDesc {
    pub data_type: u32,
    pub resolution: u32,
    pub tag: u32,
    pub bytes_inc: u64,
    pub lut: String,
}

#[derive(Clone, Debug, Default)]
pub(super) struct DimDesc {
    pub id: u32,
    pub n: u64,
    pub origin: f64,
    pub length: f64,
    pub unit: String,
    pub bytes_inc: u64,
}

#[derive(Clone, Debug, Default)]
pub(super) struct ImageDesc {
    /// Names of the nested elements below the file's root element, joined with `/`.
    pub path: String,
    pub channels: Vec<ChannelDesc>,
    pub dims: Vec<DimDesc>,
    pub memory_id: Option<String>,
    pub memory_size: u64,
    /// First time stamp of the image, as a Windows FILETIME (100 ns since 1601).
    pub first_timestamp: Option<u64>,
    /// Attributes of the first ATLConfocalSettingDefinition / ATLCameraSettingDefinition.
    pub hardware: Vec<(String, String)>,
    is_image: bool,
}

#[derive(Debug, Default)]
pub(super) struct Header {
    pub version: u32,
    pub images: Vec<ImageDesc>,
    /// The experiment's time stamp (FILETIME), used when an image has none of its own.
    pub experiment_timestamp: Option<u64>,
}

fn num<T: std::str::FromStr>(attrs: &Attrs, key: &str, what: &str) -> Result<T, String> {
    let v = get(attrs, key).ok_or_else(|| format!("{what} has no {key}"))?;
    v.trim()
        .parse()
        .map_err(|_| format!("{what}: {key} is not a number: '{v}'"))
}

fn float(attrs: &Attrs, key: &str) -> f64 {
    get(attrs, key)
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0.0)
}

fn filetime(attrs: &Attrs) -> Option<u64> {
    let high: u64 = get(attrs, "HighInteger")?.trim().parse().ok()?;
    let low: u64 = get(attrs, "LowInteger")?.trim().parse().ok()?;
    Some((high << 32) | (low & 0xffff_ffff))
}

#[derive(Default)]
struct Parser {
    header: Header,
    /// Every element in document order (folders too), so that images keep pre-order.
    all: Vec<ImageDesc>,
    /// Open tags.
    stack: Vec<String>,
    /// For each open `Element`: its depth in `stack` and its index in `all`.
    elements: Vec<(usize, usize)>,
    in_timestamp_list: bool,
}

impl Parser {
    /// Tags between the innermost open `Element` and the current one.
    fn rel(&self) -> &[String] {
        match self.elements.last() {
            Some(&(depth, _)) => self.stack.get(depth + 1..).unwrap_or(&[]),
            None => &self.stack,
        }
    }

    fn current(&mut self) -> Option<&mut ImageDesc> {
        let &(_, i) = self.elements.last()?;
        self.all.get_mut(i)
    }

    fn open(&mut self, e: &BytesStart, name: &str) -> Result<(), String> {
        if name == "Element" {
            let attrs = attributes(e)?;
            let own = get(&attrs, "Name").unwrap_or("").to_string();
            // The outermost element is the file itself: image paths start below it.
            let path = match self.elements.last() {
                None => String::new(),
                Some(&(_, i)) => match self.all.get(i).map(|p| p.path.as_str()) {
                    Some("") | None => own,
                    Some(parent) => format!("{parent}/{own}"),
                },
            };
            self.elements.push((self.stack.len(), self.all.len()));
            self.all.push(ImageDesc {
                path,
                ..ImageDesc::default()
            });
            return Ok(());
        }
        if name == "LMSDataContainerHeader" && self.stack.is_empty() {
            let attrs = attributes(e)?;
            self.header.version = get(&attrs, "Version")
                .and_then(|v| v.trim().parse().ok())
                .unwrap_or(2);
            return Ok(());
        }
        let rel: Vec<&str> = self.rel().iter().map(String::as_str).collect();
        let is_root = self.elements.len() == 1;
        match (rel.as_slice(), name) {
            (["Data"], "Image") => {
                if let Some(img) = self.current() {
                    img.is_image = true;
                }
            }
            (["Data", "Image", "ImageDescription", "Channels"], "ChannelDescription") => {
                let a = attributes(e)?;
                let what = "ChannelDescription";
                let ch = ChannelDesc {
                    data_type: num(&a, "DataType", what)?,
                    resolution: num(&a, "Resolution", what)?,
                    tag: num(&a, "ChannelTag", what).unwrap_or(0),
                    bytes_inc: num(&a, "BytesInc", what)?,
                    lut: get(&a, "LUTName").unwrap_or("").to_string(),
                };
                if let Some(img) = self.current() {
                    if img.channels.len() >= MAX_CHANNELS {
                        return Err(format!("image '{}' declares too many channels", img.path));
                    }
                    img.channels.push(ch);
                }
            }
            (["Data", "Image", "ImageDescription", "Dimensions"], "DimensionDescription") => {
                let a = attributes(e)?;
                let what = "DimensionDescription";
                let dim = DimDesc {
                    id: num(&a, "DimID", what)?,
                    n: num(&a, "NumberOfElements", what)?,
                    origin: float(&a, "Origin"),
                    length: float(&a, "Length"),
                    unit: get(&a, "Unit").unwrap_or("").to_string(),
                    bytes_inc: num(&a, "BytesInc", what)?,
                };
                if let Some(img) = self.current() {
                    if img.dims.len() >= MAX_DIMS {
                        return Err(format!("image '{}' declares too many dimensions", img.path));
                    }
                    img.dims.push(dim);
                }
            }
            ([], "Memory") => {
                let a = attributes(e)?;
                let size = num(&a, "Size", "Memory").unwrap_or(0);
                let id = get(&a, "MemoryBlockID").map(str::to_string);
                if let Some(img) = self.current() {
                    img.memory_size = size;
                    img.memory_id = id;
                }
            }
            (["Data", "Image"], "TimeStampList") => self.in_timestamp_list = true,
            (["Data", "Image", "TimeStampList"], "TimeStamp") => {
                let t = filetime(&attributes(e)?);
                if let Some(img) = self.current() {
                    img.first_timestamp = img.first_timestamp.or(t);
                }
            }
            (["Data", "Experiment"], "TimeStamp") if is_root => {
                self.header.experiment_timestamp = filetime(&attributes(e)?);
            }
            ([first, ..], "ATLConfocalSettingDefinition" | "ATLCameraSettingDefinition")
                if *first == "Data" =>
            {
                let a = attributes(e)?;
                if let Some(img) = self.current()
                    && img.hardware.is_empty()
                {
                    img.hardware = a;
                }
            }
            _ => {}
        }
        Ok(())
    }

    fn close(&mut self) {
        if self.stack.pop().as_deref() == Some("TimeStampList") {
            self.in_timestamp_list = false;
        }
        if let Some(&(depth, _)) = self.elements.last()
            && depth == self.stack.len()
        {
            self.elements.pop();
        }
    }

    /// LAS X 3.1 and later write the time stamps as hexadecimal FILETIMEs in the list's text.
    fn text(&mut self, text: &str) {
        if !self.in_timestamp_list {
            return;
        }
        let first = text
            .split_whitespace()
            .next()
            .and_then(|t| u64::from_str_radix(t, 16).ok());
        if let Some(img) = self.current() {
            img.first_timestamp = img.first_timestamp.or(first);
        }
    }
}

/// Parses the header. Errors name the problem; the caller adds the file name.
pub(super) fn parse(xml: &str) -> Result<Header, String> {
    let mut reader = reader(xml);
    let mut p = Parser::default();
    loop {
        let event = next_event(&mut reader, "XML header")?;
        match event {
            Event::Start(e) => {
                let name = e.local_name().as_ref().to_string();
                p.open(&e, &name)?;
                p.stack.push(name);
            }
            Event::Empty(e) => {
                let name = e.local_name().as_ref().to_string();
                p.open(&e, &name)?;
                p.stack.push(name);
                p.close();
            }
            Event::End(_) => p.close(),
            Event::Text(t) => p.text(&t.xml10_content()),
            Event::Eof => break,
            _ => {}
        }
    }
    if let Some(open) = p.stack.last() {
        return Err(format!("XML header ends inside <{open}>"));
    }
    if p.all.is_empty() {
        return Err("XML header holds no Element".into());
    }
    p.header.images = p
        .all
        .into_iter()
        .filter(|d| d.is_image && d.memory_size > 0)
        .collect();
    Ok(p.header)
}

#[cfg(test)]
mod tests {
    use super::parse;

    fn image(name: &str, mem: u64, inner: &str, children: &str) -> String {
        format!(
            r#"<Element Name="{name}"><Data><Image><ImageDescription><Channels>
            <ChannelDescription DataType="0" ChannelTag="0" Resolution="8" BytesInc="0" LUTName="Red"/>
            </Channels><Dimensions>
            <DimensionDescription DimID="1" NumberOfElements="4" Origin="0" Length="3e-6" Unit="m" BytesInc="1"/>
            </Dimensions></ImageDescription>{inner}</Image></Data>
            <Memory Size="{mem}" MemoryBlockID="MB_{name}"/><Children>{children}</Children></Element>"#
        )
    }

    /// Paths below the file's root element, pre-order (a parent image before its children),
    /// elements without pixels skipped, both time stamp spellings.
    #[test]
    fn nested_images_keep_their_paths_and_order() {
        let hex = r#"<TimeStampList NumberOfTimeStamps="2">1d6f64bbab40b70 1d6f64bbba39b90</TimeStampList>"#;
        let old = r#"<TimeStampList><TimeStamp HighInteger="1" LowInteger="2"/></TimeStampList>"#;
        let folder = format!(
            r#"<Element Name="Folder"><Data><Collection/></Data><Memory Size="0" MemoryBlockID="MB_0"/>
            <Children>{}{}</Children></Element>"#,
            image("A", 4, hex, &image("B", 4, old, "")),
            image("Empty", 0, "", "")
        );
        let xml = format!(
            r#"<LMSDataContainerHeader Version="1"><Element Name="file.lif"><Data><Experiment>
            <TimeStamp HighInteger="30864971" LowInteger="36306201"/></Experiment></Data>
            <Memory Size="0" MemoryBlockID="MB_root"/><Children>{folder}{}</Children></Element>
            </LMSDataContainerHeader>"#,
            image("C", 4, "", "")
        );
        let h = parse(&xml).unwrap();
        assert_eq!(h.version, 1);
        let paths: Vec<&str> = h.images.iter().map(|i| i.path.as_str()).collect();
        assert_eq!(paths, ["Folder/A", "Folder/A/B", "C"]);
        assert_eq!(h.images[0].first_timestamp, Some(0x1d6f64bbab40b70));
        assert_eq!(h.images[1].first_timestamp, Some((1 << 32) | 2));
        assert_eq!(h.images[2].memory_id.as_deref(), Some("MB_C"));
        assert_eq!(h.images[2].dims.len(), 1);
        assert_eq!(h.images[0].channels[0].lut, "Red");
        assert_eq!(
            h.experiment_timestamp,
            Some((30_864_971u64 << 32) | 36_306_201)
        );
        assert!(parse("<LMSDataContainerHeader Version=\"2\"><Element Name=\"x\">").is_err());
    }
}
