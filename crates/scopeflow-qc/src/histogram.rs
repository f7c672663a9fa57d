//! A coarse histogram per channel for people to look at (the server's file page draws it).
//! The QC figures use the full-resolution bins; this is only a picture of them, small enough
//! to travel in every QC document.

use crate::stats::Cell;

/// Equal-width bins over `[min, max]`.
pub const HISTOGRAM_BINS: usize = 64;

/// Pixel counts in [`HISTOGRAM_BINS`] equal bins over `[min, max]`, placed as
/// `numpy.histogram(x.astype(float64), bins=64, range=(min, max))` places them (the last bin
/// includes `max`).
/// When `min == max` every pixel is in the first bin. A cell that summarises several values
/// (32-bit and float channels past the distinct-value cap) counts where its mean falls.
pub(crate) fn histogram(cells: impl Iterator<Item = Cell>, min: f64, max: f64) -> Vec<u64> {
    let mut counts = vec![0u64; HISTOGRAM_BINS];
    let span = max - min;
    let last = HISTOGRAM_BINS - 1;
    let edge = |i: usize| {
        if i >= HISTOGRAM_BINS {
            max
        } else {
            // numpy.linspace: start + i * (span / n), exact as n is a power of two.
            min + i as f64 * (span / HISTOGRAM_BINS as f64)
        }
    };
    for c in cells {
        let k = if span > 0.0 {
            let v = c.mean.clamp(min, max);
            // numpy's own arithmetic: scale, truncate, then correct against the edges.
            let mut k = ((v - min) * (HISTOGRAM_BINS as f64 / span)) as usize;
            k = k.min(last);
            if v < edge(k) && k > 0 {
                k -= 1;
            }
            if k < last && v >= edge(k + 1) {
                k += 1;
            }
            k
        } else {
            0
        };
        counts[k] += c.count;
    }
    counts
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn places_values_like_numpy() {
        // np.histogram([0, 1, 63, 64, 100], bins=64, range=(0, 100))[0]: 0 and 1 in bin 0,
        // 63 -> 40.32 -> bin 40, 64 -> 40.96 -> bin 40, 100 (the top) in the last bin.
        let cells = [0.0, 1.0, 63.0, 64.0, 100.0].map(|v| Cell::exact(1, v));
        let h = histogram(cells.into_iter(), 0.0, 100.0);
        assert_eq!(h[0], 2);
        assert_eq!(h[40], 2);
        assert_eq!(h[63], 1);
        assert_eq!(h.iter().sum::<u64>(), 5);
    }

    #[test]
    fn a_constant_channel_fills_the_first_bin() {
        let h = histogram(std::iter::once(Cell::exact(7, 3.0)), 3.0, 3.0);
        assert_eq!(h[0], 7);
        assert_eq!(h.iter().sum::<u64>(), 7);
    }
}
