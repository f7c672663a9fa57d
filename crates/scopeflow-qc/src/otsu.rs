//! Otsu's split, computed operation for operation like `otsu_index` in
//! `shared/tools/make_samples.py`, so that near-ties resolve to the same bin.

/// Index of the first bin maximising the between-class variance, over `(count, value)` bins in
/// value order; 0 when no split separates anything (numpy's `argmax` of all zeros).
///
/// The iterator is walked twice: numpy's `m1` uses the last element of the running sum, not
/// an independently rounded total, and reproducing that is what keeps ties identical.
pub(crate) fn otsu_index<I>(bins: I) -> usize
where
    I: Iterator<Item = (f64, f64)> + Clone,
{
    let (n, s_total) = bins
        .clone()
        .fold((0.0f64, 0.0f64), |(w, s), (h, v)| (w + h, s + h * v));
    let mut w0 = 0.0f64;
    let mut s0 = 0.0f64;
    let mut best = f64::NEG_INFINITY;
    let mut best_k = 0;
    for (k, (h, v)) in bins.enumerate() {
        w0 += h;
        s0 += h * v;
        let w1 = n - w0;
        let m0 = s0 / w0;
        let m1 = (s_total - s0) / w1;
        let d = m0 - m1;
        let mut sb = w0 * w1 * (d * d);
        if w0 == 0.0 || w1 == 0.0 || !sb.is_finite() {
            sb = 0.0;
        }
        if sb > best {
            best = sb;
            best_k = k;
        }
    }
    best_k
}

#[cfg(test)]
mod tests {
    use super::otsu_index;

    fn bins(h: &[u64]) -> impl Iterator<Item = (f64, f64)> + Clone + '_ {
        h.iter().enumerate().map(|(k, &c)| (c as f64, k as f64))
    }

    #[test]
    fn otsu_two_clusters_hand_computed() {
        // values 0,1 (3 px each) and 10 (2 px): best split after value 1.
        // k=0: w0=3,w1=5,m0=0,m1=(3+20)/5=4.6 -> 15*21.16=317.4
        // k=1: w0=6,w1=2,m0=0.5,m1=10 -> 12*90.25=1083
        let mut h = [0u64; 11];
        h[0] = 3;
        h[1] = 3;
        h[10] = 2;
        assert_eq!(otsu_index(bins(&h)), 1);
    }

    #[test]
    fn otsu_single_value_gives_first_bin() {
        let mut h = [0u64; 8];
        h[5] = 100;
        assert_eq!(otsu_index(bins(&h)), 0);
    }

    #[test]
    fn otsu_empty_bins_tie_with_previous_populated_bin() {
        // 0 and 7 only: every k in 0..7 gives the same split; the first wins.
        let mut h = [0u64; 8];
        h[0] = 4;
        h[7] = 4;
        assert_eq!(otsu_index(bins(&h)), 0);
    }
}
