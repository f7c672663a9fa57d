//! Float channels (f32, f64).
//!
//! The definition bins into 65,536 equal-width bins over the channel's own `[min, max]`,
//! which is unknown until the last pixel. Values are therefore kept as exact counts of
//! distinct values (float microscopy data is normally an integer camera's levels rescaled, so
//! there are few) and binned at `finish` exactly as `numpy.histogram` does; past
//! [`DEFAULT_DISTINCT_CAP`](crate::DEFAULT_DISTINCT_CAP) distinct values the
//! [`Grid`](crate::grid) takes over and the binning becomes approximate (see there).
//!
//! NaN and ±inf are counted apart and left out of every statistic: numpy's reference would
//! return NaN for the mean and fail to bin an infinite range, so no number would be right.

use crate::distinct::Distinct;
use crate::histogram::histogram;
use crate::otsu::otsu_index;
use crate::stats::{Cell, Summary, moments, split};

/// Bins of the float histogram the threshold is taken from.
const BINS: usize = 65536;

/// Order-free injective key of a finite float; never 0 (0 would be the bits of a NaN).
fn key(x: f64) -> u64 {
    let b = x.to_bits();
    if b >> 63 == 1 { !b } else { b | 1 << 63 }
}

fn decode(k: u64) -> f64 {
    if k >> 63 == 1 {
        f64::from_bits(k & !(1 << 63))
    } else {
        f64::from_bits(!k)
    }
}

/// `numpy.histogram(x, bins=65536, range=(lo, hi))` bin assignment and the reference's bin
/// centres, operation for operation (edges from `numpy.linspace`, then the ±1 corrections
/// numpy applies near edges), so values on an edge land where numpy puts them.
struct NumpyBins {
    lo: f64,
    hi: f64,
    denom: f64,
    step: f64,
}

impl NumpyBins {
    fn new(lo: f64, hi: f64) -> Self {
        let denom = hi - lo;
        NumpyBins {
            lo,
            hi,
            denom,
            step: denom / BINS as f64,
        }
    }

    fn edge(&self, k: usize) -> f64 {
        if k == BINS {
            self.hi
        } else if self.step == 0.0 {
            (k as f64 / BINS as f64) * self.denom + self.lo
        } else {
            k as f64 * self.step + self.lo
        }
    }

    fn index(&self, x: f64) -> usize {
        let f = ((x - self.lo) / self.denom) * BINS as f64;
        let mut i = (f as usize).min(BINS);
        if i == BINS {
            i -= 1;
        }
        if x < self.edge(i) {
            i = i.saturating_sub(1);
        }
        if x >= self.edge(i + 1) && i != BINS - 1 {
            i += 1;
        }
        i
    }

    fn centre(&self, k: usize) -> f64 {
        self.lo + ((k as f64 + 0.5) * (self.hi - self.lo)) / BINS as f64
    }

    /// Threshold from a histogram over these bins.
    fn threshold(&self, hist: &[u64]) -> f64 {
        let k = otsu_index(
            hist.iter()
                .enumerate()
                .map(|(k, &h)| (h as f64, self.centre(k))),
        );
        self.centre(k)
    }
}

#[derive(Clone)]
pub(crate) struct FloatQc {
    distinct: Distinct,
    saturated: u64,
    non_finite: u64,
}

impl FloatQc {
    pub(crate) fn new(cap: usize) -> Self {
        FloatQc {
            distinct: Distinct::new(cap, decode),
            saturated: 0,
            non_finite: 0,
        }
    }

    #[inline]
    pub(crate) fn add(&mut self, x: f64) {
        if !x.is_finite() {
            self.non_finite += 1;
            return;
        }
        self.saturated += u64::from(x == 1.0);
        self.distinct.add(key(x), x);
    }

    pub(crate) fn merge(&mut self, other: &FloatQc) {
        self.saturated += other.saturated;
        self.non_finite += other.non_finite;
        self.distinct.merge(&other.distinct);
    }

    pub(crate) fn saturated(&self) -> u64 {
        self.saturated
    }

    pub(crate) fn non_finite(&self) -> u64 {
        self.non_finite
    }

    pub(crate) fn summary(&self) -> Option<Summary> {
        if let Some(values) = self.distinct.exact() {
            let (&(lo, _), &(hi, _)) = (values.first()?, values.last()?);
            let cells = values.iter().map(|&(v, n)| Cell::exact(n, v));
            let all = moments(cells.clone())?;
            let classes = (hi > lo).then(|| {
                let bins = NumpyBins::new(lo, hi);
                let mut hist = vec![0u64; BINS];
                for &(v, n) in &values {
                    hist[bins.index(v)] += n;
                }
                let t = bins.threshold(&hist);
                split(cells, t, move |c| c.mean <= t)
            });
            return Some(Summary {
                min: lo,
                max: hi,
                all,
                histogram: histogram(values.iter().map(|&(v, n)| Cell::exact(n, v)), lo, hi),
                split: classes,
            });
        }
        let grid = self.distinct.grid()?;
        let (lo, hi) = (grid.min(), grid.max());
        let cells: Vec<Cell> = grid.cells().map(|(_, c)| c).collect();
        let cells = cells.iter().copied();
        let all = moments(cells.clone())?;
        let coarse = histogram(cells.clone(), lo, hi);
        let classes = (hi > lo).then(|| {
            let bins = NumpyBins::new(lo, hi);
            let mut hist = vec![0u64; BINS];
            // A grid bin is 1/4 to 1/8 of a histogram bin; its pixels go where their mean does.
            for c in cells.clone() {
                hist[bins.index(c.mean.clamp(lo, hi))] += c.count;
            }
            let t = bins.threshold(&hist);
            split(cells, t, move |c| c.mean <= t)
        });
        Some(Summary {
            min: lo,
            max: hi,
            all,
            histogram: coarse,
            split: classes,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_round_trip_and_are_never_zero() {
        for x in [
            0.0,
            -0.0,
            1.0,
            -1.0,
            f64::MIN,
            f64::MAX,
            1e-310,
            -1e-310,
            0.1f32 as f64,
        ] {
            let k = key(x);
            assert_ne!(k, 0);
            assert_eq!(decode(k).to_bits(), x.to_bits());
        }
    }

    #[test]
    fn numpy_bins_put_hi_in_last_bin_and_lo_in_first() {
        let b = NumpyBins::new(0.0, 1.0);
        assert_eq!(b.index(0.0), 0);
        assert_eq!(b.index(1.0), BINS - 1);
        assert_eq!(b.index(0.5), BINS / 2);
        assert_eq!(b.index(0.5 - 1e-12), BINS / 2 - 1);
        // numpy: np.histogram([0.1], bins=65536, range=(0.0, 1.0)) -> bin 6553
        assert_eq!(b.index(0.1), 6553);
        assert_eq!(b.centre(0), 0.5 / 65536.0);
    }
}
