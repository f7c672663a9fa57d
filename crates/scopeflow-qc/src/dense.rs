//! Full-range histogram for 8- and 16-bit pixels: the exact definition needs one bin per
//! representable value, and 2^16 bins are small enough to keep per thread.

use crate::stats::Cell;

/// Independent sub-histograms the hot loop rotates through. Background pixels repeat the
/// same few values, so with a single table consecutive increments of one counter wait on
/// each other's store; four tables let the CPU overlap them.
const LANES: usize = 4;

/// Pixels after which the `u32` lane counters are folded into the `u64` totals, before any
/// of them can overflow (every lane counter is bounded by the pixels added since the fold).
const FOLD_EVERY: u64 = u32::MAX as u64;

/// Histogram with `L` bins (256 or 65,536). Bin `k` holds value `lo + k`; for signed types the
/// raw little-endian bits XOR the sign bit give `k` directly.
#[derive(Clone)]
pub(crate) struct Dense<const L: usize> {
    lo: i64,
    /// XOR applied to the raw bits to get the bin (the sign bit for signed types, else 0).
    flip: u16,
    /// `u32` lanes halve the cache footprint of the hot loop compared with `u64` counters.
    lanes: [Box<[u32; L]>; LANES],
    /// Allocated on the first fold or merge: a short-lived accumulator (one per plane, merged
    /// into a channel total) never needs it, and each allocation costs page faults.
    folded: Option<Box<[u64; L]>>,
    /// Pixels counted in `lanes` since the last fold.
    unfolded: u64,
}

fn zeroed<T: Copy + Default, const L: usize>() -> Box<[T; L]> {
    vec![T::default(); L]
        .into_boxed_slice()
        .try_into()
        .unwrap_or_else(|_| unreachable!("length is L"))
}

impl<const L: usize> Dense<L> {
    pub(crate) fn new(lo: i64, flip: u16) -> Self {
        Dense {
            lo,
            flip,
            lanes: std::array::from_fn(|_| zeroed()),
            folded: None,
            unfolded: 0,
        }
    }

    /// Value of the lowest bin.
    pub(crate) fn lo(&self) -> i64 {
        self.lo
    }

    fn fold(&mut self) {
        let folded = self.folded.get_or_insert_with(zeroed);
        for lane in &mut self.lanes {
            for (t, c) in folded.iter_mut().zip(lane.iter_mut()) {
                *t += u64::from(*c);
                *c = 0;
            }
        }
        self.unfolded = 0;
    }

    /// Makes room for `pixels` more lane increments.
    fn reserve(&mut self, pixels: u64) {
        debug_assert!(pixels <= FOLD_EVERY);
        if self.unfolded + pixels > FOLD_EVERY {
            self.fold();
        }
        self.unfolded += pixels;
    }

    /// Count of bin `k`.
    pub(crate) fn bin(&self, k: usize) -> u64 {
        self.folded.as_ref().map_or(0, |f| f[k])
            + self.lanes.iter().map(|l| u64::from(l[k])).sum::<u64>()
    }

    /// Count of the top bin: the dtype maximum, which is the saturation value.
    pub(crate) fn top(&self) -> u64 {
        self.bin(L - 1)
    }

    /// All bins, in value order.
    pub(crate) fn bins(&self) -> impl Iterator<Item = u64> + Clone + '_ {
        (0..L).map(|k| self.bin(k))
    }

    pub(crate) fn merge(&mut self, other: &Dense<L>) {
        debug_assert_eq!((self.lo, self.flip), (other.lo, other.flip));
        let folded = self.folded.get_or_insert_with(zeroed);
        for (k, t) in folded.iter_mut().enumerate() {
            *t += other.bin(k);
        }
    }

    /// Populated bins as exact cells, in value order.
    pub(crate) fn cells(&self) -> impl Iterator<Item = Cell> + Clone + '_ {
        self.bins()
            .enumerate()
            .filter(|&(_, c)| c > 0)
            .map(|(k, c)| Cell::exact(c, (self.lo + k as i64) as f64))
    }
}

/// Pixels per block between overflow checks; keeps `reserve` out of the inner loop.
const BLOCK_PIXELS: usize = 1 << 24;

impl Dense<65536> {
    /// Counts every `stride`-byte group's 16-bit value at byte `offset`. Inlined so that the
    /// contiguous case (`stride == 2`) compiles to a loop with constant addressing.
    #[inline(always)]
    pub(crate) fn add_le16(&mut self, bytes: &[u8], stride: usize, offset: usize) {
        debug_assert!(offset + 2 <= stride);
        for block in bytes.chunks(BLOCK_PIXELS * stride) {
            let pixels = block.len() / stride + usize::from(block.len() % stride >= offset + 2);
            self.reserve(pixels as u64);
            let flip = self.flip;
            let [a, b, c, d] = &mut self.lanes;
            let bin = |g: &[u8]| usize::from(u16::from_le_bytes([g[offset], g[offset + 1]]) ^ flip);
            let mut groups = block.chunks_exact(stride * LANES);
            for g in &mut groups {
                let (g0, rest) = g.split_at(stride);
                let (g1, rest) = rest.split_at(stride);
                let (g2, g3) = rest.split_at(stride);
                a[bin(g0)] += 1;
                b[bin(g1)] += 1;
                c[bin(g2)] += 1;
                d[bin(g3)] += 1;
            }
            for g in groups.remainder().chunks(stride) {
                if g.len() >= offset + 2 {
                    a[bin(g)] += 1;
                }
            }
        }
    }
}

impl Dense<256> {
    /// 8-bit counterpart of [`Dense::add_le16`].
    #[inline(always)]
    pub(crate) fn add_8(&mut self, bytes: &[u8], stride: usize, offset: usize) {
        debug_assert!(offset < stride);
        for block in bytes.chunks(BLOCK_PIXELS * stride) {
            let pixels = block.len() / stride + usize::from(block.len() % stride > offset);
            self.reserve(pixels as u64);
            let flip = self.flip as u8;
            let [a, b, c, d] = &mut self.lanes;
            let bin = |g: &[u8]| usize::from(g[offset] ^ flip);
            let mut groups = block.chunks_exact(stride * LANES);
            for g in &mut groups {
                let (g0, rest) = g.split_at(stride);
                let (g1, rest) = rest.split_at(stride);
                let (g2, g3) = rest.split_at(stride);
                a[bin(g0)] += 1;
                b[bin(g1)] += 1;
                c[bin(g2)] += 1;
                d[bin(g3)] += 1;
            }
            for g in groups.remainder().chunks(stride) {
                if g.len() > offset {
                    a[bin(g)] += 1;
                }
            }
        }
    }
}
