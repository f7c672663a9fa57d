use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::{Axis, DType};

/// Physical size of one pixel along X, Y and Z, in `ImageMeta::physical_unit`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct PhysicalSizes {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub x: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub y: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub z: Option<f64>,
}

impl PhysicalSizes {
    pub fn is_empty(&self) -> bool {
        self.x.is_none() && self.y.is_none() && self.z.is_none()
    }
}

/// One image series of a multi-series file (OME-TIFF can hold several; the first is converted).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SeriesSummary {
    pub index: usize,
    pub name: Option<String>,
    pub axes: String,
    pub shape: Vec<usize>,
    pub dtype: String,
}

/// What a reader knows about an image before reading any pixel.
///
/// `axes` and `shape` are in the file's own order (letters T C Z Y X S); Y and X are always
/// present and always last, except that `S` (interleaved samples) may follow X.
#[derive(Clone, Debug, PartialEq)]
pub struct ImageMeta {
    /// Detected format: `tiff`, `ome-tiff`, `imagej-tiff`, …
    pub format: String,
    pub axes: Vec<Axis>,
    pub shape: Vec<usize>,
    pub dtype: DType,
    pub physical_sizes: Option<PhysicalSizes>,
    /// NGFF unit name (`micrometer`, …) of `physical_sizes`.
    pub physical_unit: Option<String>,
    /// Time between frames, in `time_unit`.
    pub time_increment: Option<f64>,
    pub time_unit: Option<String>,
    pub channel_names: Option<Vec<String>>,
    /// RFC 3339 when the source gives a date.
    pub acquired_at: Option<String>,
    pub instrument: Option<Value>,
    /// Everything else the source says, as JSON (TIFF tags, ImageJ keys, OME summary).
    pub metadata: Map<String, Value>,
    /// The original OME-XML, kept verbatim for `OME/METADATA.ome.xml`.
    pub ome_xml: Option<String>,
    /// Every series in the file; the first is the one described above.
    pub series: Vec<SeriesSummary>,
}

impl ImageMeta {
    pub fn axis_len(&self, axis: Axis) -> Option<usize> {
        self.axes
            .iter()
            .position(|&a| a == axis)
            .map(|i| self.shape[i])
    }

    pub fn height(&self) -> usize {
        self.axis_len(Axis::Y).unwrap_or(1)
    }

    pub fn width(&self) -> usize {
        self.axis_len(Axis::X).unwrap_or(1)
    }

    /// Number of QC channels: the C axis, else the S axis, else one.
    pub fn channel_count(&self) -> usize {
        self.axis_len(Axis::C)
            .or_else(|| self.axis_len(Axis::S))
            .unwrap_or(1)
    }

    /// Axes that index 2-D planes: every axis but Y, X and S, in file order.
    pub fn plane_axes(&self) -> Vec<Axis> {
        self.axes
            .iter()
            .copied()
            .filter(|a| !matches!(a, Axis::Y | Axis::X | Axis::S))
            .collect()
    }

    /// Interleaved samples per pixel (1 unless there is an S axis).
    pub fn samples(&self) -> usize {
        self.axis_len(Axis::S).unwrap_or(1)
    }

    pub fn raw_bytes(&self) -> u64 {
        self.shape.iter().map(|&n| n as u64).product::<u64>() * self.dtype.size() as u64
    }

    /// The `inspect --json` document of the CLI contract.
    pub fn to_inspect_json(&self) -> Value {
        let mut doc = Map::new();
        doc.insert("format".into(), self.format.clone().into());
        doc.insert("axes".into(), crate::axis::axes_string(&self.axes).into());
        doc.insert("shape".into(), self.shape.clone().into());
        doc.insert("dtype".into(), self.dtype.name().into());
        doc.insert(
            "physical_sizes".into(),
            match &self.physical_sizes {
                Some(p) if !p.is_empty() => serde_json::to_value(p).unwrap_or(Value::Null),
                _ => Value::Null,
            },
        );
        doc.insert("physical_unit".into(), self.physical_unit.clone().into());
        doc.insert("channel_names".into(), self.channel_names.clone().into());
        doc.insert("acquired_at".into(), self.acquired_at.clone().into());
        doc.insert(
            "instrument".into(),
            self.instrument.clone().unwrap_or(Value::Null),
        );
        if let Some(dt) = self.time_increment {
            doc.insert("time_increment".into(), dt.into());
            doc.insert("time_unit".into(), self.time_unit.clone().into());
        }
        doc.insert(
            "series".into(),
            serde_json::to_value(&self.series).unwrap_or(Value::Null),
        );
        doc.insert("metadata".into(), Value::Object(self.metadata.clone()));
        Value::Object(doc)
    }
}
