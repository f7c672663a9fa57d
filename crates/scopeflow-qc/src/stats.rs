//! Class moments (count, mean, population std) from histogram cells.
//!
//! The reference computes means and standard deviations from the exact pixel values with
//! numpy's pairwise sums. Cells here carry either one exact value or a bucket's own mean and
//! sum of squared deviations, and are combined with compensated sums around the class mean
//! (a two-pass formula), so exact cells reproduce the reference to rounding and buckets lose
//! nothing to the cancellation a plain `E[x²] − E[x]²` would suffer.

/// Pixels summarised by their count, mean and sum of squared deviations from that mean.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct Cell {
    pub count: u64,
    pub mean: f64,
    pub m2: f64,
}

impl Cell {
    /// `count` pixels all equal to `value`.
    pub(crate) fn exact(count: u64, value: f64) -> Cell {
        Cell {
            count,
            mean: value,
            m2: 0.0,
        }
    }
}

/// Neumaier-compensated sum: cells can number in the hundreds of thousands and the reference
/// sums pairwise, so a naive running sum would drift further from it than the tolerance.
#[derive(Clone, Copy, Default)]
pub(crate) struct Sum {
    sum: f64,
    comp: f64,
}

impl Sum {
    pub(crate) fn add(&mut self, x: f64) {
        let t = self.sum + x;
        if self.sum.abs() >= x.abs() {
            self.comp += (self.sum - t) + x;
        } else {
            self.comp += (x - t) + self.sum;
        }
        self.sum = t;
    }

    pub(crate) fn value(self) -> f64 {
        self.sum + self.comp
    }
}

/// Count, mean and population standard deviation of one class of pixels.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct Moments {
    pub n: u64,
    pub mean: f64,
    pub std: f64,
}

/// Moments of the pixels in `cells`; `None` when there are none.
pub(crate) fn moments<I>(cells: I) -> Option<Moments>
where
    I: Iterator<Item = Cell> + Clone,
{
    let mut n = 0u64;
    let mut s = Sum::default();
    for c in cells.clone() {
        n += c.count;
        s.add(c.count as f64 * c.mean);
    }
    if n == 0 {
        return None;
    }
    let mean = s.value() / n as f64;
    let mut ss = Sum::default();
    for c in cells {
        let d = c.mean - mean;
        ss.add(c.m2 + c.count as f64 * (d * d));
    }
    Some(Moments {
        n,
        mean,
        std: (ss.value() / n as f64).sqrt(),
    })
}

/// Threshold and the two classes it separates (`None` for an empty class).
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct Split {
    pub threshold: f64,
    pub background: Option<Moments>,
    pub signal: Option<Moments>,
}

/// What each pixel representation reduces to; absent when the channel has no finite pixel.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Summary {
    pub min: f64,
    pub max: f64,
    pub all: Moments,
    /// [`crate::histogram::histogram`] of the same cells.
    pub histogram: Vec<u64>,
    /// `None` when the definition has no threshold (float data with `min == max`).
    pub split: Option<Split>,
}

/// Splits cells (in value order) into background (`is_background`) and signal.
pub(crate) fn split<I>(
    cells: I,
    threshold: f64,
    is_background: impl Fn(&Cell) -> bool + Copy,
) -> Split
where
    I: Iterator<Item = Cell> + Clone,
{
    Split {
        threshold,
        background: moments(cells.clone().filter(move |c| is_background(c))),
        signal: moments(cells.filter(move |c| !is_background(c))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn moments_of_exact_cells() {
        // 1,1,3,3 -> mean 2, population std 1
        let cells = [Cell::exact(2, 1.0), Cell::exact(2, 3.0)];
        let m = moments(cells.iter().copied()).unwrap();
        assert_eq!(
            m,
            Moments {
                n: 4,
                mean: 2.0,
                std: 1.0
            }
        );
        assert_eq!(moments(std::iter::empty::<Cell>()), None);
    }

    #[test]
    fn bucket_cells_combine_like_their_pixels() {
        // bucket {1, 3}: mean 2, m2 2; plus exact 6 -> pixels 1,3,6: mean 10/3
        let cells = [
            Cell {
                count: 2,
                mean: 2.0,
                m2: 2.0,
            },
            Cell::exact(1, 6.0),
        ];
        let m = moments(cells.iter().copied()).unwrap();
        let mean = 10.0 / 3.0;
        let var = ((1.0 - mean) * (1.0f64 - mean)
            + (3.0 - mean) * (3.0 - mean)
            + (6.0 - mean) * (6.0 - mean))
            / 3.0;
        assert!((m.mean - mean).abs() < 1e-15);
        assert!((m.std - var.sqrt()).abs() < 1e-15);
    }
}
