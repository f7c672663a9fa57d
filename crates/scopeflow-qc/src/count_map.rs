//! Counts per distinct 64-bit key, for pixel types too wide for a dense histogram.
//!
//! A std `HashMap` with SipHash costs tens of nanoseconds per pixel; this open-addressing
//! table with a multiplicative hash and linear probing stays in the low nanoseconds while the
//! distinct values fit in cache, which is the common case (integer cameras).

/// Marks an empty slot; callers encode their keys so that 0 never occurs.
const EMPTY: u64 = 0;

#[derive(Clone)]
pub(crate) struct CountMap {
    /// `(key, count)` side by side: a probe touches one cache line.
    slots: Vec<(u64, u64)>,
    len: usize,
    /// `64 - log2(slots.len())`: the hash keeps the top bits of the product.
    shift: u32,
}

impl CountMap {
    pub(crate) fn new() -> Self {
        Self::with_slots(1 << 10)
    }

    fn with_slots(n: usize) -> Self {
        debug_assert!(n.is_power_of_two());
        CountMap {
            slots: vec![(EMPTY, 0); n],
            len: 0,
            shift: 64 - n.trailing_zeros(),
        }
    }

    /// Number of distinct keys.
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    #[inline(always)]
    fn slot_of(&self, key: u64) -> usize {
        (key.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> self.shift) as usize
    }

    /// Adds `n` to the count of `key` (`key != 0`).
    #[inline(always)]
    pub(crate) fn add(&mut self, key: u64, n: u64) {
        debug_assert_ne!(key, EMPTY);
        let mask = self.slots.len() - 1;
        let mut i = self.slot_of(key);
        loop {
            let slot = &mut self.slots[i];
            if slot.0 == key {
                slot.1 += n;
                return;
            }
            if slot.0 == EMPTY {
                *slot = (key, n);
                self.len += 1;
                // Load factor 3/4 keeps probe sequences short.
                if self.len * 4 > self.slots.len() * 3 {
                    self.grow();
                }
                return;
            }
            i = (i + 1) & mask;
        }
    }

    fn grow(&mut self) {
        let mut bigger = CountMap::with_slots(self.slots.len() * 2);
        for &(k, n) in self.iter_raw() {
            bigger.add(k, n);
        }
        *self = bigger;
    }

    fn iter_raw(&self) -> impl Iterator<Item = &(u64, u64)> {
        self.slots.iter().filter(|s| s.0 != EMPTY)
    }

    /// `(key, count)` pairs in no particular order.
    pub(crate) fn iter(&self) -> impl Iterator<Item = (u64, u64)> + '_ {
        self.iter_raw().copied()
    }

    /// Bytes held, for the memory bound documented on the accumulator.
    #[cfg(test)]
    pub(crate) fn heap_bytes(&self) -> usize {
        self.slots.len() * std::mem::size_of::<(u64, u64)>()
    }
}

#[cfg(test)]
mod tests {
    use super::CountMap;

    #[test]
    fn counts_survive_growth() {
        let mut m = CountMap::new();
        for k in 1..=10_000u64 {
            m.add(k, k);
            m.add(k, 1);
        }
        assert_eq!(m.len(), 10_000);
        let mut v: Vec<_> = m.iter().collect();
        v.sort_unstable();
        assert!(v.iter().all(|&(k, n)| n == k + 1));
        assert!(m.heap_bytes() <= 16 * 16384);
    }
}
