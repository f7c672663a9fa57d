//! Exact counts of distinct values while they are few, a [`Grid`] once they are not.
//!
//! Shared by 32-bit integers and floats: both are too wide for a dense histogram, and both
//! usually come from cameras with far fewer distinct levels than their type allows, so exact
//! counts are the normal case and the grid only bounds memory for continuous-valued data.

use crate::count_map::CountMap;
use crate::grid::Grid;

/// Distinct values counted exactly before switching to the grid (393,216). Camera data, even
/// rescaled to float, has at most 65,536 levels, far below it. Each new distinct value costs a
/// cache-missing hash insert, and converters may start an accumulator per plane, so a larger
/// cap mostly buys time spent before the inevitable switch; at load 3/4 the table stays
/// within 2^19 slots (8 MiB).
pub const DEFAULT_DISTINCT_CAP: usize = 3 << 17;

#[derive(Clone)]
enum Store {
    Exact(CountMap),
    Grid(Box<Grid>),
}

/// Values keyed by an injective, order-free `u64` encoding (never 0); `decode` turns a key
/// back into the value.
#[derive(Clone)]
pub(crate) struct Distinct {
    cap: usize,
    decode: fn(u64) -> f64,
    store: Store,
}

impl Distinct {
    pub(crate) fn new(cap: usize, decode: fn(u64) -> f64) -> Self {
        Distinct {
            cap: cap.max(1),
            decode,
            store: Store::Exact(CountMap::new()),
        }
    }

    /// Adds one pixel of `value`, whose key is `key`.
    #[inline]
    pub(crate) fn add(&mut self, key: u64, value: f64) {
        match &mut self.store {
            Store::Exact(map) => {
                map.add(key, 1);
                if map.len() >= self.cap {
                    self.spill();
                }
            }
            Store::Grid(grid) => grid.add(value, 1),
        }
    }

    fn spill(&mut self) {
        if let Store::Exact(map) = &self.store {
            let (mut min, mut max) = (f64::INFINITY, f64::NEG_INFINITY);
            for (k, _) in map.iter() {
                let v = (self.decode)(k);
                min = min.min(v);
                max = max.max(v);
            }
            let mut grid = Grid::new(min, max);
            for (k, n) in map.iter() {
                grid.add((self.decode)(k), n);
            }
            self.store = Store::Grid(Box::new(grid));
        }
    }

    pub(crate) fn merge(&mut self, other: &Distinct) {
        match &other.store {
            Store::Exact(theirs) => {
                for (k, n) in theirs.iter() {
                    match &mut self.store {
                        Store::Exact(map) => {
                            map.add(k, n);
                            if map.len() >= self.cap {
                                self.spill();
                            }
                        }
                        Store::Grid(grid) => grid.add((other.decode)(k), n),
                    }
                }
            }
            Store::Grid(theirs) => {
                if matches!(&self.store, Store::Exact(map) if map.len() == 0) {
                    self.store = Store::Grid(theirs.clone());
                    return;
                }
                self.spill();
                if let Store::Grid(grid) = &mut self.store {
                    grid.merge(theirs);
                }
            }
        }
    }

    /// Exact `(value, count)` pairs sorted by value, or `None` once on the grid.
    pub(crate) fn exact(&self) -> Option<Vec<(f64, u64)>> {
        match &self.store {
            Store::Exact(map) => {
                let mut v: Vec<(f64, u64)> =
                    map.iter().map(|(k, n)| ((self.decode)(k), n)).collect();
                v.sort_unstable_by(|a, b| a.0.total_cmp(&b.0));
                Some(v)
            }
            Store::Grid(_) => None,
        }
    }

    pub(crate) fn grid(&self) -> Option<&Grid> {
        match &self.store {
            Store::Grid(g) => Some(g),
            Store::Exact(_) => None,
        }
    }
}
