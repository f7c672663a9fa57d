//! 32-bit integer channels (u32, i32).
//!
//! The definition's histogram has one bin per value of the full 2^32 range; empty bins only
//! repeat the between-class variance of the populated bin before them, so Otsu over the
//! populated values alone picks the same split (see the reference's docstring), and only
//! populated values are kept. 32-bit files very often hold 16-bit camera data, so values in
//! `0..65536` go to a dense table (a plain index instead of a hash probe); the rest are
//! counted per distinct value, and past
//! [`DEFAULT_DISTINCT_CAP`](crate::DEFAULT_DISTINCT_CAP) distinct values on a
//! [`Grid`](crate::grid): its bins of `2^e` consecutive integers become the Otsu candidates
//! (value = their mean), so the threshold is approximate — exact while `e <= 0`, i.e. while
//! the values outside `0..65536` span fewer than 2^19 integers — but the class means and stds
//! remain sums over the exact pixel values.

use crate::distinct::Distinct;
use crate::histogram::histogram;
use crate::otsu::otsu_index;
use crate::stats::{Cell, Summary, moments, split};

const LOW: usize = 65536;

/// Order-free injective key of an i64 in the u32 ∪ i32 range; never 0.
fn key(v: i64) -> u64 {
    (v - i64::from(i32::MIN) + 1) as u64
}

fn decode(k: u64) -> f64 {
    (k as i64 - 1 + i64::from(i32::MIN)) as f64
}

#[derive(Clone)]
pub(crate) struct WideQc {
    low: Box<[u64; LOW]>,
    distinct: Distinct,
    saturated: u64,
    sat_value: i64,
}

impl WideQc {
    pub(crate) fn new(sat_value: i64, cap: usize) -> Self {
        WideQc {
            low: vec![0u64; LOW]
                .into_boxed_slice()
                .try_into()
                .unwrap_or_else(|_| unreachable!("length is LOW")),
            distinct: Distinct::new(cap, decode),
            saturated: 0,
            sat_value,
        }
    }

    #[inline]
    pub(crate) fn add(&mut self, v: i64) {
        self.saturated += u64::from(v == self.sat_value);
        match usize::try_from(v) {
            Ok(i) if i < LOW => self.low[i] += 1,
            _ => self.distinct.add(key(v), v as f64),
        }
    }

    pub(crate) fn merge(&mut self, other: &WideQc) {
        for (a, b) in self.low.iter_mut().zip(other.low.iter()) {
            *a += b;
        }
        self.saturated += other.saturated;
        self.distinct.merge(&other.distinct);
    }

    pub(crate) fn saturated(&self) -> u64 {
        self.saturated
    }

    fn low_cells(&self) -> impl Iterator<Item = Cell> + '_ {
        self.low
            .iter()
            .enumerate()
            .filter(|&(_, &n)| n > 0)
            .map(|(v, &n)| Cell::exact(n, v as f64))
    }

    pub(crate) fn summary(&self) -> Option<Summary> {
        // (cell, largest integer it can hold), in value order
        let mut cells: Vec<(Cell, f64)> = self.low_cells().map(|c| (c, c.mean)).collect();
        match self.distinct.exact() {
            Some(values) => cells.extend(values.iter().map(|&(v, n)| (Cell::exact(n, v), v))),
            None => {
                let grid = self.distinct.grid()?;
                let w = grid.width();
                // A bin spans integers in [left, left + w), but only those outside the dense
                // window reach it: sorting by mean interleaves it correctly with the window's
                // values, and a bin reaching into the window from below holds values < 0 only.
                cells.extend(grid.cells().map(|(left, c)| {
                    let top = (left + w).ceil() - 1.0;
                    (c, if c.mean < 0.0 { top.min(-1.0) } else { top })
                }));
            }
        }
        cells.sort_unstable_by(|a, b| a.0.mean.total_cmp(&b.0.mean));
        let min = cells
            .first()?
            .0
            .mean
            .min(self.distinct.grid().map_or(f64::INFINITY, |g| g.min()));
        let max = cells
            .last()?
            .0
            .mean
            .max(self.distinct.grid().map_or(f64::NEG_INFINITY, |g| g.max()));
        let all = moments(cells.iter().map(|c| c.0))?;
        let k = otsu_index(cells.iter().map(|(c, _)| (c.count as f64, c.mean)));
        let boundary = cells[k].0.mean;
        let threshold = cells[k].1.min(max);
        let classes = split(cells.iter().map(|c| c.0), threshold, move |c| {
            c.mean <= boundary
        });
        Some(Summary {
            min,
            max,
            all,
            histogram: histogram(cells.iter().map(|c| c.0), min, max),
            split: Some(classes),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_cover_u32_and_i32() {
        for v in [
            0i64,
            -1,
            i64::from(i32::MIN),
            i64::from(i32::MAX),
            i64::from(u32::MAX),
        ] {
            assert_ne!(key(v), 0);
            assert_eq!(decode(key(v)), v as f64);
        }
    }
}
