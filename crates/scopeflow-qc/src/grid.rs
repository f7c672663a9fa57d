//! Bounded-memory fallback once a channel has too many distinct values to count exactly.
//!
//! The final histogram the definition needs (65,536 bins over `[min, max]`, or one bin per
//! integer) is relative to the data's own range, which a streaming pass only learns at the
//! end. So the fallback is a linear grid whose bin width is a power of two chosen from the
//! range seen so far: `2^e` is the smallest width that fits `[min, max]` into
//! [`SPAN`] bins, and the window holds twice that so it rarely has to move. When the range
//! grows past it, the width doubles (two bins merge exactly into one) — widths being powers of
//! two keep bins of different accumulators nested, so they merge exactly too, and the grid an
//! accumulator ends with depends only on the final `[min, max]`, not on how the pixels were
//! split across threads. With the span between `SPAN/2` and `SPAN` bins, a final 65,536-bin
//! histogram bin covers 4 to 8 grid bins, so the threshold is off by at most a fraction of a
//! bin.
//!
//! A bin keeps its count and the sum and sum of squares of `x − left edge`: small offsets, so
//! the per-bin variance does not cancel catastrophically and class means/stds stay accurate
//! to rounding (only which side of the threshold a straddling bin falls on is approximate).
//! A grid is [`WINDOW`] × 24 bytes = 24 MiB.

use crate::stats::Cell;

/// Bins spanned by `[min, max]` at most (and, after a width change, more than half of it).
const SPAN: i64 = 1 << 19;
/// Bins stored: room for the range to grow on either side before the window moves.
const WINDOW: usize = 1 << 20;
/// Width exponents kept away from the ends of the f64 exponent range, so that `2^e` and
/// `2^-e` are both finite and non-zero.
const E_MIN: i32 = -1000;
const E_MAX: i32 = 1020;
/// Scaled values must stay well inside `i64`; beyond this a width is treated as too fine.
const I_LIMIT: f64 = (1u64 << 62) as f64;

#[derive(Clone, Copy, Default)]
struct Bin {
    count: u64,
    /// Σ (x − left edge)
    sum: f64,
    /// Σ (x − left edge)²
    sumsq: f64,
}

#[derive(Clone)]
pub(crate) struct Grid {
    e: i32,
    /// `2^-e`
    scale: f64,
    /// `2^e`
    width: f64,
    /// Absolute bin index (`floor(x / 2^e)`) of `bins[0]`.
    base: i64,
    bins: Vec<Bin>,
    min: f64,
    max: f64,
}

/// `2^e`, built from its bits so that it is exact by construction.
fn pow2(e: i32) -> f64 {
    debug_assert!((-1022..=1023).contains(&e));
    f64::from_bits(((e + 1023) as u64) << 52)
}

/// `floor(i / 2^s)`, also for shifts past the width of `i64`.
fn shr_floor(i: i64, s: i32) -> i64 {
    if s >= 63 { i >> 63 } else { i >> s }
}

/// `floor(x / 2^e)`; truncation plus correction, because `f64::floor` is a libm call on
/// baseline x86-64 and this runs per pixel.
#[inline(always)]
fn index(x: f64, scale: f64) -> i64 {
    let y = x * scale;
    let t = y as i64;
    t - i64::from((t as f64) > y)
}

/// Whether `[min, max]` fits in [`SPAN`] bins of width `2^e`.
fn fits(min: f64, max: f64, e: i32) -> bool {
    let scale = pow2(-e);
    let (a, b) = (min * scale, max * scale);
    a.abs() < I_LIMIT && b.abs() < I_LIMIT && index(max, scale) - index(min, scale) < SPAN
}

/// The smallest width exponent that fits `[min, max]`; a function of the range alone, which
/// is what makes grids of different accumulators agree.
fn exponent_for(min: f64, max: f64) -> i32 {
    let range = max - min;
    // Start near the answer; `fits` is monotone in `e`, so walking settles on the smallest.
    let mut e = if range > 0.0 && range.is_finite() {
        ((range / SPAN as f64).log2().floor() as i32).clamp(E_MIN, E_MAX)
    } else if range > 0.0 {
        E_MAX
    } else {
        E_MIN
    };
    while e > E_MIN && fits(min, max, e - 1) {
        e -= 1;
    }
    while e < E_MAX && !fits(min, max, e) {
        e += 1;
    }
    e
}

impl Grid {
    /// An empty grid ready for values in `[min, max]`.
    pub(crate) fn new(min: f64, max: f64) -> Self {
        let mut g = Grid {
            e: E_MIN,
            scale: pow2(-E_MIN),
            width: pow2(E_MIN),
            base: 0,
            bins: Vec::new(),
            min,
            max,
        };
        g.layout(min, max, exponent_for(min, max));
        g
    }

    pub(crate) fn min(&self) -> f64 {
        self.min
    }

    pub(crate) fn max(&self) -> f64 {
        self.max
    }

    /// Width of one bin.
    pub(crate) fn width(&self) -> f64 {
        self.width
    }

    /// Extends the range to `[min, max]` (a superset of the current one), re-laying the bins
    /// only when the width must grow or the range leaves the window.
    fn fit(&mut self, min: f64, max: f64) {
        let e = exponent_for(min, max).max(self.e);
        let scale = pow2(-e);
        let (lo, hi) = (index(min, scale), index(max, scale));
        if e == self.e && !self.bins.is_empty() && lo >= self.base && hi < self.base + WINDOW as i64
        {
            self.min = min;
            self.max = max;
        } else {
            self.layout(min, max, e);
        }
    }

    /// Lays the bins out afresh at width `2^e`, window centred on `[min, max]`.
    fn layout(&mut self, min: f64, max: f64, e: i32) {
        let scale = pow2(-e);
        let (lo, hi) = (index(min, scale), index(max, scale));
        let base = lo + (hi - lo) / 2 - (WINDOW as i64) / 2;
        let occupied = self.occupied();
        let (old_first, old_len) = (occupied.start, occupied.len());
        let old = std::mem::take(&mut self.bins);
        let old_e = self.e;
        let old_base = self.base;
        let old_width = self.width;
        self.e = e;
        self.scale = scale;
        self.width = pow2(e);
        self.base = base;
        self.min = min;
        self.max = max;
        self.bins = vec![Bin::default(); WINDOW];
        for (j, b) in old.iter().enumerate().skip(old_first).take(old_len) {
            if b.count > 0 {
                let i = old_base + j as i64;
                self.put(i as f64 * old_width, old_e, i, *b);
            }
        }
    }

    /// Adds bin `b` of absolute index `i` at width exponent `e` (≤ the grid's) whose left
    /// edge is `left`, shifting its offsets to the left edge of the bin it lands in.
    fn put(&mut self, left: f64, e: i32, i: i64, b: Bin) {
        let ni = shr_floor(i, self.e - e);
        let shift = left - ni as f64 * self.width;
        let slot = self.slot(ni);
        let t = &mut self.bins[slot];
        t.count += b.count;
        t.sum += b.sum + b.count as f64 * shift;
        t.sumsq += b.sumsq + 2.0 * shift * b.sum + b.count as f64 * shift * shift;
    }

    /// Window slot of absolute index `i`; clamped so that pathological ranges (values beyond
    /// 2^62 widths) degrade the threshold instead of panicking.
    fn slot(&self, i: i64) -> usize {
        (i.saturating_sub(self.base)).clamp(0, WINDOW as i64 - 1) as usize
    }

    /// Adds `n` pixels of value `x` (finite).
    #[inline]
    pub(crate) fn add(&mut self, x: f64, n: u64) {
        if x < self.min || x > self.max {
            self.fit(self.min.min(x), self.max.max(x));
        }
        let i = index(x, self.scale);
        let d = x - i as f64 * self.width;
        let slot = self.slot(i);
        let b = &mut self.bins[slot];
        let nf = n as f64;
        b.count += n;
        b.sum += nf * d;
        b.sumsq += nf * d * d;
    }

    pub(crate) fn merge(&mut self, other: &Grid) {
        // `other`'s width is at most the union's: widths only depend on the range.
        self.fit(self.min.min(other.min), self.max.max(other.max));
        debug_assert!(self.e >= other.e);
        let occupied = other.occupied();
        for (j, b) in other
            .bins
            .iter()
            .enumerate()
            .skip(occupied.start)
            .take(occupied.len())
        {
            if b.count > 0 {
                let i = other.base + j as i64;
                self.put(i as f64 * other.width, other.e, i, *b);
            }
        }
    }

    /// Slots that can be populated: those of `[min, max]` (no bins at all before a layout).
    fn occupied(&self) -> std::ops::Range<usize> {
        if self.bins.is_empty() {
            return 0..0;
        }
        self.slot(index(self.min, self.scale))..self.slot(index(self.max, self.scale)) + 1
    }

    /// Populated bins in value order, with the left edge of each.
    pub(crate) fn cells(&self) -> impl Iterator<Item = (f64, Cell)> + Clone + '_ {
        let occupied = self.occupied();
        self.bins
            .iter()
            .enumerate()
            .skip(occupied.start)
            .take(occupied.len())
            .filter(|(_, b)| b.count > 0)
            .map(|(j, b)| {
                let left = (self.base + j as i64) as f64 * self.width;
                let n = b.count as f64;
                let mean_d = b.sum / n;
                let m2 = (b.sumsq - b.sum * mean_d).max(0.0);
                (
                    left,
                    Cell {
                        count: b.count,
                        mean: left + mean_d,
                        m2,
                    },
                )
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stats::moments;

    #[test]
    fn exponent_depends_on_range_only() {
        let e = exponent_for(0.0, 1.0);
        assert!(fits(0.0, 1.0, e) && !fits(0.0, 1.0, e - 1));
        assert_eq!(e, -18); // [0, 1] at 2^-19 would need 2^19 + 1 bins
        assert_eq!(exponent_for(100.0, 100.0 + 2f64.powi(19) - 1.0), 0);
    }

    #[test]
    fn widening_keeps_counts_and_moments() {
        let xs: Vec<f64> = (0..5000)
            .map(|i| (i as f64 * 0.37).sin() * 3.0 + i as f64 * 1e-3)
            .collect();
        let mut g = Grid::new(xs[0], xs[0]);
        for &x in &xs {
            g.add(x, 1);
        }
        // a far outlier forces a coarser width
        g.add(1e6, 2);
        let cells: Vec<Cell> = g.cells().map(|(_, c)| c).collect();
        let m = moments(cells.iter().copied()).unwrap();
        let mut all = xs.clone();
        all.extend([1e6, 1e6]);
        let n = all.len() as f64;
        let mean = all.iter().sum::<f64>() / n;
        let std = (all.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / n).sqrt();
        assert_eq!(m.n, all.len() as u64);
        assert!(
            (m.mean - mean).abs() / mean.abs() < 1e-12,
            "{} {}",
            m.mean,
            mean
        );
        assert!((m.std - std).abs() / std < 1e-12);
        assert_eq!(g.min(), xs.iter().copied().fold(f64::INFINITY, f64::min));
        assert_eq!(g.max(), 1e6);
    }

    #[test]
    fn merge_matches_single_grid() {
        let xs: Vec<f64> = (0..20000)
            .map(|i| ((i * 7919) % 10007) as f64 * 0.01 - 3.0)
            .collect();
        let mut one = Grid::new(xs[0], xs[0]);
        for &x in &xs {
            one.add(x, 1);
        }
        let (a, b) = xs.split_at(7000);
        let mut ga = Grid::new(a[0], a[0]);
        a.iter().for_each(|&x| ga.add(x, 1));
        let mut gb = Grid::new(b[0], b[0]);
        b.iter().for_each(|&x| gb.add(x, 1));
        ga.merge(&gb);
        let c1: Vec<_> = one.cells().collect();
        let c2: Vec<_> = ga.cells().collect();
        assert_eq!(c1.len(), c2.len());
        for ((l1, x), (l2, y)) in c1.iter().zip(&c2) {
            assert_eq!(l1, l2);
            assert_eq!(x.count, y.count);
            assert!((x.mean - y.mean).abs() < 1e-9);
        }
    }
}
