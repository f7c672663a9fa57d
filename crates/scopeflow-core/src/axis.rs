use serde::{Deserialize, Serialize};

/// One dimension of an image as the source file orders it.
///
/// `S` is the interleaved-samples axis of RGB TIFFs; it becomes the NGFF channel axis.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Axis {
    T,
    C,
    Z,
    Y,
    X,
    S,
}

/// NGFF axis type.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AxisKind {
    Time,
    Channel,
    Space,
}

impl Axis {
    pub fn letter(self) -> char {
        match self {
            Axis::T => 'T',
            Axis::C => 'C',
            Axis::Z => 'Z',
            Axis::Y => 'Y',
            Axis::X => 'X',
            Axis::S => 'S',
        }
    }

    pub fn from_letter(c: char) -> Option<Axis> {
        Some(match c.to_ascii_uppercase() {
            'T' => Axis::T,
            'C' => Axis::C,
            'Z' => Axis::Z,
            'Y' => Axis::Y,
            'X' => Axis::X,
            'S' => Axis::S,
            _ => return None,
        })
    }

    /// Name of the axis in NGFF output (`S` folds into the channel axis `c`).
    pub fn ngff_name(self) -> &'static str {
        match self {
            Axis::T => "t",
            Axis::C | Axis::S => "c",
            Axis::Z => "z",
            Axis::Y => "y",
            Axis::X => "x",
        }
    }

    pub fn kind(self) -> AxisKind {
        match self {
            Axis::T => AxisKind::Time,
            Axis::C | Axis::S => AxisKind::Channel,
            Axis::Z | Axis::Y | Axis::X => AxisKind::Space,
        }
    }

    /// Position in the canonical NGFF order t, c, z, y, x.
    pub fn ngff_rank(self) -> usize {
        match self {
            Axis::T => 0,
            Axis::C | Axis::S => 1,
            Axis::Z => 2,
            Axis::Y => 3,
            Axis::X => 4,
        }
    }
}

impl AxisKind {
    pub fn ngff_name(self) -> &'static str {
        match self {
            AxisKind::Time => "time",
            AxisKind::Channel => "channel",
            AxisKind::Space => "space",
        }
    }
}

/// Formats axes the way `inspect` prints them, e.g. `"CZYX"`.
pub fn axes_string(axes: &[Axis]) -> String {
    axes.iter().map(|a| a.letter()).collect()
}
