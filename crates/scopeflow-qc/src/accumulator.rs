//! The per-channel accumulator the converters feed, and its reduction to [`ChannelQc`].

use scopeflow_core::{ChannelQc, DType};

use crate::dense::Dense;
use crate::distinct::DEFAULT_DISTINCT_CAP;
use crate::float::FloatQc;
use crate::focus::{LaplacianMoments, PlaneFocus};
use crate::histogram::histogram;
use crate::otsu::otsu_index;
use crate::stats::{Summary, moments, split};
use crate::wide::WideQc;

/// One representation per dtype family, chosen so memory stays bounded whatever the image
/// size (see the crate documentation for the bounds).
#[derive(Clone)]
enum Repr {
    Dense8(Dense<256>),
    Dense16(Dense<65536>),
    Wide(WideQc),
    Float(FloatQc),
}

/// Streaming QC statistics of one channel.
///
/// Each worker thread keeps its own accumulator per channel, feeds it the pixels it decodes
/// and the results are folded together with [`merge`](Self::merge); the order of `add` and
/// `merge` calls does not change the result (beyond float rounding in the approximate
/// fallback for very many distinct values).
#[derive(Clone)]
pub struct ChannelAccumulator {
    dtype: DType,
    /// Pixels seen, including non-finite float pixels.
    count: u64,
    repr: Repr,
    focus: LaplacianMoments,
}

impl std::fmt::Debug for ChannelAccumulator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ChannelAccumulator")
            .field("dtype", &self.dtype)
            .field("count", &self.count)
            .finish_non_exhaustive()
    }
}

/// Pixel `offset..offset + N` of every `stride`-byte group, including a trailing partial group
/// that still holds it.
fn pixels<const N: usize>(
    bytes: &[u8],
    stride: usize,
    offset: usize,
) -> impl Iterator<Item = [u8; N]> + '_ {
    bytes
        .chunks(stride)
        .filter_map(move |g| g.get(offset..offset + N)?.try_into().ok())
}

impl ChannelAccumulator {
    pub fn new(dtype: DType) -> Self {
        Self::with_distinct_cap(dtype, DEFAULT_DISTINCT_CAP)
    }

    /// Like [`new`](Self::new) with a different number of distinct values (32-bit and float
    /// types) counted exactly before the bounded-memory fallback; mainly to exercise that
    /// fallback on small inputs.
    pub fn with_distinct_cap(dtype: DType, cap: usize) -> Self {
        let repr = match dtype {
            DType::U8 => Repr::Dense8(Dense::new(0, 0)),
            DType::I8 => Repr::Dense8(Dense::new(i8::MIN.into(), 0x80)),
            DType::U16 => Repr::Dense16(Dense::new(0, 0)),
            DType::I16 => Repr::Dense16(Dense::new(i16::MIN.into(), 0x8000)),
            DType::U32 => Repr::Wide(WideQc::new(u32::MAX.into(), cap)),
            DType::I32 => Repr::Wide(WideQc::new(i32::MAX.into(), cap)),
            DType::F32 | DType::F64 => Repr::Float(FloatQc::new(cap)),
        };
        ChannelAccumulator {
            dtype,
            count: 0,
            repr,
            focus: LaplacianMoments::default(),
        }
    }

    pub fn dtype(&self) -> DType {
        self.dtype
    }

    /// Pixels added so far (non-finite float pixels included).
    pub fn count(&self) -> u64 {
        self.count
    }

    /// Float pixels that are NaN or ±inf: counted in `count`, excluded from everything else.
    pub fn non_finite(&self) -> u64 {
        match &self.repr {
            Repr::Float(f) => f.non_finite(),
            _ => 0,
        }
    }

    /// Adds contiguous pixels (little-endian bytes of the dtype; len is a multiple of
    /// `dtype.size()`, a trailing partial pixel is ignored).
    pub fn add(&mut self, bytes: &[u8]) {
        let size = self.dtype.size();
        self.add_strided(bytes, size, 0);
    }

    /// Adds every `samples`-th pixel starting at pixel `sample` (one channel of interleaved
    /// samples, e.g. RGB). A trailing partial group contributes its pixel if it holds it.
    pub fn add_interleaved(&mut self, bytes: &[u8], sample: usize, samples: usize) {
        assert!(
            sample < samples,
            "sample {sample} out of {samples} interleaved samples"
        );
        let size = self.dtype.size();
        self.add_strided(bytes, size * samples, size * sample);
    }

    fn add_strided(&mut self, bytes: &[u8], stride: usize, offset: usize) {
        let size = self.dtype.size();
        let n = bytes.len() / stride + usize::from(bytes.len() % stride >= offset + size);
        self.count += n as u64;
        match &mut self.repr {
            // Separate calls with literal strides let the contiguous loops be specialised.
            Repr::Dense16(d) if stride == 2 => d.add_le16(bytes, 2, 0),
            Repr::Dense16(d) => d.add_le16(bytes, stride, offset),
            Repr::Dense8(d) if stride == 1 => d.add_8(bytes, 1, 0),
            Repr::Dense8(d) => d.add_8(bytes, stride, offset),
            Repr::Wide(w) => {
                let signed = self.dtype == DType::I32;
                for p in pixels::<4>(bytes, stride, offset) {
                    let raw = u32::from_le_bytes(p);
                    w.add(if signed {
                        i64::from(raw as i32)
                    } else {
                        i64::from(raw)
                    });
                }
            }
            Repr::Float(f) => {
                if self.dtype == DType::F32 {
                    pixels::<4>(bytes, stride, offset)
                        .for_each(|p| f.add(f32::from_le_bytes(p).into()));
                } else {
                    pixels::<8>(bytes, stride, offset).for_each(|p| f.add(f64::from_le_bytes(p)));
                }
            }
        }
    }

    /// Feeds the focus score the next whole rows of one plane of this channel (the same bytes
    /// given to [`add`](Self::add) or [`add_interleaved`](Self::add_interleaved)); `plane`
    /// carries the rows the Laplacian needs across bands.
    pub fn add_focus_rows(&mut self, plane: &mut PlaneFocus, bytes: &[u8]) {
        plane.add_rows(bytes, &mut self.focus);
    }

    /// Folds another accumulator of the same dtype into this one.
    ///
    /// # Panics
    /// If the dtypes differ.
    pub fn merge(&mut self, other: &ChannelAccumulator) {
        assert_eq!(
            self.dtype, other.dtype,
            "merging QC accumulators of different dtypes"
        );
        self.count += other.count;
        self.focus.merge(&other.focus);
        match (&mut self.repr, &other.repr) {
            (Repr::Dense8(a), Repr::Dense8(b)) => a.merge(b),
            (Repr::Dense16(a), Repr::Dense16(b)) => a.merge(b),
            (Repr::Wide(a), Repr::Wide(b)) => a.merge(b),
            (Repr::Float(a), Repr::Float(b)) => a.merge(b),
            _ => unreachable!("same dtype, same representation"),
        }
    }

    fn saturated(&self) -> u64 {
        match &self.repr {
            Repr::Dense8(d) => d.top(),
            Repr::Dense16(d) => d.top(),
            Repr::Wide(w) => w.saturated(),
            Repr::Float(f) => f.saturated(),
        }
    }

    fn summary(&self) -> Option<Summary> {
        match &self.repr {
            Repr::Dense8(d) => dense_summary(d.lo(), d.bins(), d.cells()),
            Repr::Dense16(d) => dense_summary(d.lo(), d.bins(), d.cells()),
            Repr::Wide(w) => w.summary(),
            Repr::Float(f) => f.summary(),
        }
    }

    /// The channel's QC figures.
    ///
    /// `count` includes non-finite float pixels and `saturation_fraction` is relative to it
    /// (as in the reference); every other figure is over the finite pixels, so
    /// `n_signal + n_background == count - non_finite()`. Threshold-derived fields are `None`
    /// when the definition gives none (float data with `min == max`); a class's mean (and the
    /// background std) is `None` when that class is empty, and `snr` also when the background
    /// std is 0.
    pub fn finish(&self, index: usize, name: Option<String>) -> ChannelQc {
        let mut qc = ChannelQc {
            index,
            name,
            snr: None,
            saturation_fraction: None,
            otsu_threshold: None,
            min: None,
            max: None,
            mean: None,
            mean_signal: None,
            mean_background: None,
            std_background: None,
            n_signal: None,
            n_background: None,
            focus: None,
            histogram: None,
            count: self.count,
        };
        if self.count == 0 {
            return qc;
        }
        qc.saturation_fraction = Some(self.saturated() as f64 / self.count as f64);
        let Some(s) = self.summary() else { return qc };
        qc.min = Some(s.min);
        qc.max = Some(s.max);
        qc.mean = Some(s.all.mean);
        qc.focus = self.focus.score(qc.mean);
        qc.histogram = Some(s.histogram);
        let Some(split) = s.split else { return qc };
        qc.otsu_threshold = Some(split.threshold);
        qc.n_background = Some(split.background.map_or(0, |m| m.n));
        qc.n_signal = Some(split.signal.map_or(0, |m| m.n));
        qc.mean_background = split.background.map(|m| m.mean);
        qc.std_background = split.background.map(|m| m.std);
        qc.mean_signal = split.signal.map(|m| m.mean);
        if let (Some(b), Some(s)) = (split.background, split.signal)
            && b.std != 0.0
        {
            qc.snr = Some((s.mean - b.mean) / b.std);
        }
        qc
    }
}

/// 8/16-bit: Otsu over every bin of the full range, empty ones included, exactly as the
/// reference does (it only matters when no split exists: the threshold is then the dtype
/// minimum, not the single populated value).
fn dense_summary<I, C>(lo: i64, bins: I, cells: C) -> Option<Summary>
where
    I: Iterator<Item = u64> + Clone,
    C: Iterator<Item = crate::stats::Cell> + Clone,
{
    let all = moments(cells.clone())?;
    let min = cells.clone().next()?.mean;
    let max = cells.clone().last()?.mean;
    let k = otsu_index(
        bins.enumerate()
            .map(|(k, h)| (h as f64, (lo + k as i64) as f64)),
    );
    let t = (lo + k as i64) as f64;
    Some(Summary {
        min,
        max,
        all,
        histogram: histogram(cells.clone(), min, max),
        split: Some(split(cells, t, move |c| c.mean <= t)),
    })
}
