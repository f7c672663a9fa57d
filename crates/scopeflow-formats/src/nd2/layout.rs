//! What the decoded metadata chunks say about the pixel layout: frame geometry from
//! `ImageAttributesLV!`, the experiment loops from `ImageMetadataLV!` (outermost first, as the
//! sequence index counts them) and the channels from `ImageMetadataSeqLV|0!`. Field meanings
//! follow the `nd2` Python package (BSD-3, `_parse/_parse.py`).

use scopeflow_core::DType;
use serde_json::{Map, Value};

/// One dimension of the acquisition sequence.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum LoopAxis {
    T,
    /// XY positions: the series.
    P,
    Z,
}

#[derive(Clone, Debug)]
pub(super) struct ExpLoop {
    pub(super) axis: LoopAxis,
    pub(super) count: usize,
    /// Z step in µm (Z loops only).
    pub(super) step_um: Option<f64>,
    /// Position names (P loops only; one per valid point).
    pub(super) names: Vec<Option<String>>,
    pub(super) period_ms: Option<f64>,
}

/// Frame geometry: every sequence frame is `height` rows of `row_stride` bytes holding
/// `width` pixels of `components` interleaved samples.
#[derive(Clone, Debug)]
pub(super) struct Frame {
    pub(super) width: usize,
    pub(super) height: usize,
    pub(super) row_stride: usize,
    pub(super) components: usize,
    pub(super) dtype: DType,
    pub(super) compressed: bool,
    pub(super) bits_significant: u64,
    pub(super) sequence_count: u64,
}

pub(super) fn num(map: &Map<String, Value>, key: &str) -> Option<f64> {
    map.get(key).and_then(|v| match v {
        Value::Bool(b) => Some(f64::from(u8::from(*b))),
        other => other.as_f64(),
    })
}

fn uint(map: &Map<String, Value>, key: &str) -> Result<usize, String> {
    map.get(key)
        .and_then(Value::as_u64)
        .and_then(|v| usize::try_from(v).ok())
        .ok_or_else(|| format!("image attributes lack {key}"))
}

pub(super) fn text(map: &Map<String, Value>, key: &str) -> Option<String> {
    map.get(key)
        .and_then(Value::as_str)
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
}

/// The elements of a decoded level, whether it came out as a list or as a keyed map.
pub(super) fn elements(v: Option<&Value>) -> Vec<&Value> {
    match v {
        Some(Value::Array(a)) => a.iter().collect(),
        Some(Value::Object(m)) => m.values().collect(),
        _ => Vec::new(),
    }
}

/// `SLxImageAttributes`: frame geometry, or why it cannot be read.
pub(super) fn frame(attrs: &Map<String, Value>) -> Result<Frame, String> {
    let width = uint(attrs, "uiWidth")?;
    let height = uint(attrs, "uiHeight")?;
    let components = uint(attrs, "uiComp")?;
    let bpc = uint(attrs, "uiBpcInMemory")?;
    let dtype = match bpc {
        8 => DType::U8,
        16 => DType::U16,
        32 => DType::F32,
        other => return Err(format!("{other} bits per component is not supported")),
    };
    if width == 0 || height == 0 || components == 0 {
        return Err(format!(
            "empty frame ({width}x{height}, {components} components)"
        ));
    }
    let packed = width
        .checked_mul(components)
        .and_then(|n| n.checked_mul(bpc / 8))
        .ok_or("frame width overflows")?;
    let row_stride = match attrs.get("uiWidthBytes").and_then(Value::as_u64) {
        Some(0) | None => packed,
        Some(w) => usize::try_from(w).map_err(|_| "row stride overflows")?,
    };
    if row_stride < packed {
        return Err(format!(
            "row stride {row_stride} is shorter than a row ({packed} bytes)"
        ));
    }
    row_stride
        .checked_mul(height)
        .ok_or("frame size overflows")?;
    let compressed = match attrs.get("eCompression").and_then(Value::as_i64) {
        Some(0) => true,
        Some(1) => return Err("lossy-compressed frames are not supported".into()),
        _ => false,
    };
    for (key, full) in [("uiTileWidth", width), ("uiTileHeight", height)] {
        if let Some(t) = attrs.get(key).and_then(Value::as_u64)
            && t > 0
            && t != full as u64
        {
            return Err("tiled frames are not supported".into());
        }
    }
    Ok(Frame {
        width,
        height,
        row_stride,
        components,
        dtype,
        compressed,
        bits_significant: attrs
            .get("uiBpcSignificant")
            .and_then(Value::as_u64)
            .unwrap_or(bpc as u64),
        sequence_count: attrs
            .get("uiSequenceCount")
            .and_then(Value::as_u64)
            .unwrap_or(0),
    })
}

/// The experiment loops, outermost first; nested spectral loops (the channels) are skipped.
pub(super) fn loops(exp: &Map<String, Value>) -> Result<Vec<ExpLoop>, String> {
    let mut out: Vec<(ExpLoop, i64)> = Vec::new();
    collect(exp, 0, &mut out, 0)?;
    let loops: Vec<ExpLoop> = out.into_iter().map(|(l, _)| l).collect();
    for (i, l) in loops.iter().enumerate() {
        if loops[..i].iter().any(|o| o.axis == l.axis) {
            return Err(format!(
                "two {:?} loops in one experiment are not supported",
                l.axis
            ));
        }
    }
    Ok(loops)
}

fn collect(
    src: &Map<String, Value>,
    mut level: i64,
    dest: &mut Vec<(ExpLoop, i64)>,
    depth: usize,
) -> Result<(), String> {
    if depth > 32 {
        return Err("experiment loops nested too deeply".into());
    }
    let Some(parsed) = single_loop(src)? else {
        return Ok(());
    };
    match parsed {
        Parsed::Spectral => level -= 1,
        Parsed::Loop(l) => {
            if l.count == 0 {
                return Ok(());
            }
            match dest.last_mut() {
                None => dest.push((l, level)),
                Some((_, prev_level)) if *prev_level < level => dest.push((l, level)),
                Some((prev, prev_level)) => {
                    if *prev_level == level && prev.axis == l.axis && prev.count < l.count {
                        *prev = l;
                    }
                }
            }
        }
    }
    if let Some(Value::Object(pars)) = src.get("uLoopPars")
        && pars.contains_key("pSubLoops")
    {
        return Err("sub-loops inside a time loop are not supported".into());
    }
    for next in elements(src.get("ppNextLevelEx")) {
        if let Value::Object(next) = next {
            collect(next, level + 1, dest, depth + 1)?;
        }
    }
    Ok(())
}

enum Parsed {
    Loop(ExpLoop),
    Spectral,
}

fn single_loop(exp: &Map<String, Value>) -> Result<Option<Parsed>, String> {
    let kind = exp.get("eType").and_then(Value::as_i64).unwrap_or(0);
    let pars = match exp.get("uLoopPars") {
        // Version 2 files wrap the parameters in a one-item list.
        Some(Value::Object(p)) if p.len() == 1 && p.contains_key("i0000000000") => {
            match p.get("i0000000000") {
                Some(Value::Object(inner)) => inner,
                _ => return Ok(None),
            }
        }
        Some(Value::Object(p)) if !p.is_empty() => p,
        Some(Value::Array(a)) => match a.first() {
            Some(Value::Object(p)) => p,
            _ => return Ok(None),
        },
        _ => return Ok(None),
    };
    let count = |m: &Map<String, Value>| {
        m.get("uiCount")
            .and_then(Value::as_u64)
            .map_or(0, |c| c as usize)
    };
    let simple = |axis| ExpLoop {
        axis,
        count: count(pars),
        step_um: None,
        names: Vec::new(),
        period_ms: None,
    };
    Ok(Some(match kind {
        1 => Parsed::Loop(ExpLoop {
            // "As fast as possible" loops have no set period: the measured mean is the step.
            period_ms: num(pars, "dPeriod")
                .filter(|p| *p > 0.0)
                .or_else(|| num(pars, "dAvgPeriodDiff").filter(|p| *p > 0.0)),
            ..simple(LoopAxis::T)
        }),
        2 => Parsed::Loop(positions(exp, pars)),
        4 => {
            let n = count(pars);
            let mut step = num(pars, "dZStep").unwrap_or(0.0);
            if step == 0.0 && n > 1 {
                let (lo, hi) = (num(pars, "dZLow"), num(pars, "dZHigh"));
                step = (hi.unwrap_or(0.0) - lo.unwrap_or(0.0)).abs() / (n - 1) as f64;
            }
            Parsed::Loop(ExpLoop {
                step_um: Some(step.abs()).filter(|s| *s > 0.0),
                ..simple(LoopAxis::Z)
            })
        }
        8 => {
            let valid = flags(pars.get("pPeriodValid"));
            let mut n = 0;
            for (i, period) in elements(pars.get("pPeriod")).into_iter().enumerate() {
                if valid.get(i).copied().unwrap_or(false)
                    && let Value::Object(p) = period
                {
                    n += count(p);
                }
            }
            Parsed::Loop(ExpLoop {
                count: n,
                ..simple(LoopAxis::T)
            })
        }
        6 => {
            let planes = pars.get("pPlanes").and_then(Value::as_object);
            match planes.map_or(count(pars), count) {
                0 => return Ok(None),
                _ => Parsed::Spectral,
            }
        }
        0 if pars.is_empty() => return Ok(None),
        7 => return Err("custom experiment loops are not supported".into()),
        other => return Err(format!("experiment loop type {other} is not supported")),
    }))
}

/// Boolean flags stored either as a byte array or as a level of booleans.
fn flags(v: Option<&Value>) -> Vec<bool> {
    elements(v)
        .into_iter()
        .map(|f| f.as_bool().unwrap_or_else(|| f.as_u64().unwrap_or(0) != 0))
        .collect()
}

fn positions(exp: &Map<String, Value>, pars: &Map<String, Value>) -> ExpLoop {
    let points = elements(pars.get("Points"));
    let valid = flags(exp.get("pItemValid"));
    let names: Vec<Option<String>> = points
        .iter()
        .enumerate()
        .filter(|(i, _)| valid.is_empty() || valid.get(*i).copied().unwrap_or(false))
        .map(|(_, p)| {
            p.as_object()
                .and_then(|p| text(p, "dPosName").or_else(|| text(p, "pPosName")))
        })
        .collect();
    ExpLoop {
        axis: LoopAxis::P,
        count: names.len(),
        step_um: None,
        names,
        period_ms: None,
    }
}
