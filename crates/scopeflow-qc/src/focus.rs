//! Focus score: the variance of the Laplacian, normalised by the squared channel mean.
//!
//! Definition (the README's and `qc --json`'s `focus`): on every full-resolution 2-D plane of
//! the channel, at every pixel that has four neighbours (rows and columns 1 to n-2),
//! `L = up + down + left + right − 4·centre`. The score is the population variance of all
//! these `L` values of the channel, divided by the square of the channel's mean (`mean`).
//! Sharp detail gives large Laplacians; blur removes them. Dividing by mean² makes the score
//! independent of exposure and gain (scaling every pixel by k scales `L` by k), so one
//! `focus_min` can hold across samples. Non-finite `L` (from NaN or ±inf pixels) are skipped.
//!
//! Planes arrive as bands of rows, so each plane keeps a window of its last two rows
//! ([`PlaneFocus`]) and the Laplacian of a row is taken when the row below it comes in;
//! memory is three rows per channel and plane being read. 8- and 16-bit pixels, the common
//! case, take an integer path: `L` is exact in `i32` and a row's sums of `L` and `L²` exact in
//! integers, four times cheaper than the float path this pass otherwise pays on every pixel.

use scopeflow_core::DType;

/// Count, mean and sum of squared deviations of Laplacian values; merged with Chan's formula
/// so the order in which threads fold their planes does not matter beyond rounding.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub(crate) struct LaplacianMoments {
    n: u64,
    mean: f64,
    m2: f64,
}

impl LaplacianMoments {
    pub(crate) fn merge(&mut self, o: &LaplacianMoments) {
        if o.n == 0 {
            return;
        }
        if self.n == 0 {
            *self = *o;
            return;
        }
        let n = self.n + o.n;
        let (na, nb, nt) = (self.n as f64, o.n as f64, n as f64);
        let d = o.mean - self.mean;
        self.mean += d * nb / nt;
        self.m2 += o.m2 + d * d * na * nb / nt;
        self.n = n;
    }

    /// Adds a row of `n` integer values from their exact sum and sum of squares.
    fn add_sums(&mut self, n: u64, sum: i128, sum_sq: i128) {
        if n == 0 {
            return;
        }
        let nn = i128::from(n);
        self.merge(&LaplacianMoments {
            n,
            mean: sum as f64 / n as f64,
            // n·Σx² − (Σx)² ≥ 0 exactly; divided by n once, in float.
            m2: (nn * sum_sq - sum * sum) as f64 / n as f64,
        });
    }

    /// Adds a row's values (exact two-pass moments, then merged).
    fn add_all(&mut self, values: &[f64]) {
        if values.is_empty() {
            return;
        }
        let n = values.len() as f64;
        let mean = values.iter().sum::<f64>() / n;
        let m2 = values.iter().map(|v| (v - mean) * (v - mean)).sum();
        self.merge(&LaplacianMoments {
            n: values.len() as u64,
            mean,
            m2,
        });
    }

    /// The score for a channel whose pixels average `channel_mean`; `None` when no pixel
    /// has four neighbours or the mean is 0 (nothing to normalise by).
    pub(crate) fn score(&self, channel_mean: Option<f64>) -> Option<f64> {
        let mean = channel_mean?;
        if self.n == 0 || mean == 0.0 || !mean.is_finite() {
            return None;
        }
        Some(self.m2 / self.n as f64 / (mean * mean))
    }
}

/// The rows of one plane seen so far that the next row's Laplacian still needs.
pub struct PlaneFocus {
    dtype: DType,
    width: usize,
    /// Bytes from one pixel of this channel to the next (interleaved samples).
    stride: usize,
    offset: usize,
    above: Vec<f64>,
    centre: Vec<f64>,
    below: Vec<f64>,
    rows: usize,
    laplacians: Vec<f64>,
    /// The same window for 8- and 16-bit pixels (empty otherwise).
    int_above: Vec<i32>,
    int_centre: Vec<i32>,
    int_below: Vec<i32>,
}

impl PlaneFocus {
    /// For a plane `width` pixels wide, of which this channel is sample `sample` of `samples`.
    pub fn new(dtype: DType, width: usize, sample: usize, samples: usize) -> PlaneFocus {
        let size = dtype.size();
        PlaneFocus {
            dtype,
            width,
            stride: size * samples,
            offset: size * sample,
            above: Vec::with_capacity(width),
            centre: Vec::with_capacity(width),
            below: Vec::with_capacity(width),
            rows: 0,
            laplacians: Vec::new(),
            int_above: Vec::new(),
            int_centre: Vec::new(),
            int_below: Vec::new(),
        }
    }

    fn is_small_int(&self) -> bool {
        matches!(self.dtype, DType::U8 | DType::I8 | DType::U16 | DType::I16)
    }

    /// Feeds the next whole rows of the plane (little-endian bytes, as read).
    pub(crate) fn add_rows(&mut self, bytes: &[u8], into: &mut LaplacianMoments) {
        let row = self.width * self.stride;
        if row == 0 {
            return;
        }
        if self.is_small_int() {
            for r in bytes.chunks_exact(row) {
                self.add_int_row(r, into);
            }
            return;
        }
        if self.laplacians.capacity() == 0 {
            self.laplacians.reserve(self.width.saturating_sub(2));
        }
        for r in bytes.chunks_exact(row) {
            std::mem::swap(&mut self.above, &mut self.centre);
            std::mem::swap(&mut self.centre, &mut self.below);
            self.below.clear();
            let (dtype, offset) = (self.dtype, self.offset);
            self.below.extend(
                r.chunks_exact(self.stride)
                    .map(|px| decode(dtype, &px[offset..])),
            );
            self.rows += 1;
            if self.rows >= 3 && self.width >= 3 {
                self.laplacians.clear();
                let (a, c, b) = (&self.above, &self.centre, &self.below);
                self.laplacians.extend(
                    (1..self.width - 1)
                        .map(|x| a[x] + b[x] + c[x - 1] + c[x + 1] - 4.0 * c[x])
                        .filter(|l| l.is_finite()),
                );
                into.add_all(&self.laplacians);
            }
        }
    }
}

impl PlaneFocus {
    fn add_int_row(&mut self, r: &[u8], into: &mut LaplacianMoments) {
        std::mem::swap(&mut self.int_above, &mut self.int_centre);
        std::mem::swap(&mut self.int_centre, &mut self.int_below);
        self.int_below.clear();
        widen(self.dtype, self.stride, self.offset, r, &mut self.int_below);
        self.rows += 1;
        if self.rows < 3 || self.width < 3 {
            return;
        }
        let (sum, sum_sq) = laplacian_sums(&self.int_above, &self.int_centre, &self.int_below);
        into.add_sums((self.width - 2) as u64, sum, sum_sq);
    }
}

/// Appends a row's 8- or 16-bit pixels of one channel to `out` as `i32`. A plane of one
/// sample per pixel (the usual case) is read as fixed-size pairs, which the compiler turns
/// into vector code; interleaved samples take the general path.
fn widen(dtype: DType, stride: usize, offset: usize, r: &[u8], out: &mut Vec<i32>) {
    match (dtype, stride) {
        (DType::U8, 1) => out.extend(r.iter().map(|&v| i32::from(v))),
        (DType::I8, 1) => out.extend(r.iter().map(|&v| i32::from(v as i8))),
        (DType::U16, 2) => out.extend(
            r.as_chunks::<2>()
                .0
                .iter()
                .map(|&p| i32::from(u16::from_le_bytes(p))),
        ),
        (DType::I16, 2) => out.extend(
            r.as_chunks::<2>()
                .0
                .iter()
                .map(|&p| i32::from(i16::from_le_bytes(p))),
        ),
        _ => {
            let px = r.chunks_exact(stride).map(|p| &p[offset..]);
            match dtype {
                DType::U8 => out.extend(px.map(|p| i32::from(p[0]))),
                DType::I8 => out.extend(px.map(|p| i32::from(p[0] as i8))),
                DType::U16 => out.extend(px.map(|p| i32::from(u16::from_le_bytes([p[0], p[1]])))),
                _ => out.extend(px.map(|p| i32::from(i16::from_le_bytes([p[0], p[1]])))),
            }
        }
    }
}

/// Exact sum and sum of squares of the Laplacian over the inner pixels of the centre row `c`
/// (rows of equal length, at least 3).
///
/// The squares need 64-bit products, which the x86-64 baseline (SSE2) does two at a time; on a
/// CPU with AVX2, four. The loop is a fifth of a conversion's QC time and most facility PCs
/// and servers have AVX2, so it is compiled both ways and chosen at run time.
fn laplacian_sums(a: &[i32], c: &[i32], b: &[i32]) -> (i128, i128) {
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx2") {
        #[allow(
            unsafe_code,
            reason = "calling code compiled for a CPU feature checked above"
        )]
        // SAFETY: the running CPU has AVX2.
        return unsafe { laplacian_sums_avx2(a, c, b) };
    }
    laplacian_sums_any(a, c, b)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
fn laplacian_sums_avx2(a: &[i32], c: &[i32], b: &[i32]) -> (i128, i128) {
    laplacian_sums_any(a, c, b)
}

/// Equal-length slices zipped, so no index is checked in the loop and it vectorises.
#[inline(always)]
fn laplacian_sums_any(a: &[i32], c: &[i32], b: &[i32]) -> (i128, i128) {
    let w = c.len();
    let (up, down) = (&a[1..w - 1], &b[1..w - 1]);
    let (left, mid, right) = (&c[..w - 2], &c[1..w - 1], &c[2..]);
    let (mut sum, mut sum_sq) = (0i128, 0i128);
    // |L| ≤ 8 · 65535 < 2^20, so L² < 2^40: a block of 2^20 squares stays inside u64.
    const BLOCK: usize = 1 << 20;
    for x0 in (0..w - 2).step_by(BLOCK) {
        let x1 = (x0 + BLOCK).min(w - 2);
        let (mut s, mut s2) = (0i64, 0u64);
        let rows = up[x0..x1].iter().zip(&down[x0..x1]).zip(&left[x0..x1]);
        for (((&u, &d), &l), (&m, &r)) in rows.zip(mid[x0..x1].iter().zip(&right[x0..x1])) {
            let lap = u + d + l + r - 4 * m;
            s += i64::from(lap);
            let q = u64::from(lap.unsigned_abs());
            s2 += q * q;
        }
        sum += i128::from(s);
        sum_sq += i128::from(s2);
    }
    (sum, sum_sq)
}

/// One little-endian pixel of `dtype` at the start of `b` (which holds at least one).
fn decode(dtype: DType, b: &[u8]) -> f64 {
    let a = |n: usize| -> [u8; 8] {
        let mut out = [0u8; 8];
        out[..n].copy_from_slice(&b[..n]);
        out
    };
    match dtype {
        DType::U8 => f64::from(b[0]),
        DType::I8 => f64::from(b[0] as i8),
        DType::U16 => f64::from(u16::from_le_bytes([b[0], b[1]])),
        DType::I16 => f64::from(i16::from_le_bytes([b[0], b[1]])),
        DType::U32 => f64::from(u32::from_le_bytes([b[0], b[1], b[2], b[3]])),
        DType::I32 => f64::from(i32::from_le_bytes([b[0], b[1], b[2], b[3]])),
        DType::F32 => f64::from(f32::from_le_bytes([b[0], b[1], b[2], b[3]])),
        DType::F64 => f64::from_le_bytes(a(8)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A 3×3 plane has one interior pixel: L = 1 + 1 + 1 + 1 − 4·5 = −16; one value, so
    /// variance 0. A 4×3 plane adds a second row's Laplacian.
    #[test]
    fn laplacian_by_hand() {
        let plane: [u8; 12] = [1, 1, 1, 1, 5, 1, 1, 1, 1, 1, 1, 1];
        let mut m = LaplacianMoments::default();
        let mut f = PlaneFocus::new(DType::U8, 3, 0, 1);
        // Two bands: the window carries over.
        f.add_rows(&plane[..3], &mut m);
        f.add_rows(&plane[3..], &mut m);
        // Row 1: −16; row 2: 5 + 1 + 1 + 1 − 4 = 4. Mean −6, variance 100.
        assert_eq!(m.n, 2);
        assert!((m.m2 / 2.0 - 100.0).abs() < 1e-12);
        let mean = 16.0 / 12.0;
        assert!((m.score(Some(mean)).unwrap() - 100.0 / (mean * mean)).abs() < 1e-12);
        assert_eq!(m.score(Some(0.0)), None);
    }

    #[test]
    fn interleaved_sample() {
        // Sample 1 of 2 holds the plane above; sample 0 is constant.
        let plane: [u8; 12] = [1, 1, 1, 1, 5, 1, 1, 1, 1, 1, 1, 1];
        let bytes: Vec<u8> = plane.iter().flat_map(|&v| [9u8, v]).collect();
        let (mut m0, mut m1) = (LaplacianMoments::default(), LaplacianMoments::default());
        PlaneFocus::new(DType::U8, 3, 0, 2).add_rows(&bytes, &mut m0);
        PlaneFocus::new(DType::U8, 3, 1, 2).add_rows(&bytes, &mut m1);
        assert_eq!((m0.n, m0.m2), (2, 0.0));
        assert!((m1.m2 / 2.0 - 100.0).abs() < 1e-12);
    }

    /// Both builds of the kernel give the same exact sums, extremes included (|L| up to
    /// 4 · 65535, squares near 2^36), at widths that leave every vector tail length.
    #[test]
    fn every_build_of_the_kernel_sums_the_same() {
        for w in [3usize, 4, 5, 7, 8, 9, 17, 1000, 2051] {
            let row = |seed: usize| -> Vec<i32> {
                (0..w)
                    .map(|i| match (i * 7 + seed) % 5 {
                        0 => 0,
                        1 => 65535,
                        _ => ((i * 7919 + seed * 104_729) % 65536) as i32,
                    })
                    .collect()
            };
            let (a, c, b) = (row(1), row(2), row(3));
            let want = {
                let (mut s, mut s2) = (0i128, 0i128);
                for x in 1..w - 1 {
                    let l = i128::from(a[x] + b[x] + c[x - 1] + c[x + 1] - 4 * c[x]);
                    s += l;
                    s2 += l * l;
                }
                (s, s2)
            };
            assert_eq!(laplacian_sums_any(&a, &c, &b), want, "width {w}");
            assert_eq!(laplacian_sums(&a, &c, &b), want, "width {w}");
        }
    }

    #[test]
    fn integer_path_matches_float_path() {
        // The same 16-bit plane through the integer path and, as float pixels, the float one.
        let (w, h) = (37, 9);
        let values: Vec<u16> = (0..w * h).map(|i| ((i * 7919) % 65536) as u16).collect();
        let ints: Vec<u8> = values.iter().flat_map(|v| v.to_le_bytes()).collect();
        let floats: Vec<u8> = values
            .iter()
            .flat_map(|&v| f32::from(v).to_le_bytes())
            .collect();
        let (mut mi, mut mf) = (LaplacianMoments::default(), LaplacianMoments::default());
        PlaneFocus::new(DType::U16, w, 0, 1).add_rows(&ints, &mut mi);
        PlaneFocus::new(DType::F32, w, 0, 1).add_rows(&floats, &mut mf);
        assert_eq!(mi.n, mf.n);
        assert!((mi.mean - mf.mean).abs() <= 1e-9 * mf.mean.abs().max(1.0));
        assert!((mi.m2 - mf.m2).abs() <= 1e-9 * mf.m2);
    }

    #[test]
    fn every_small_integer_type_matches_float_path() {
        // Signed and 8-bit pixels, alone (the fast paths) and as the second of two
        // interleaved samples (the general path), against the float path.
        let (w, h) = (41, 7);
        let raw: Vec<i64> = (0..w * h).map(|i| ((i * 7919) % 65536) as i64).collect();
        /// A pixel value's little-endian bytes in the type, and the value as a float.
        type Encode = fn(i64) -> (Vec<u8>, f32);
        let cases: [(DType, Encode); 4] = [
            (DType::U8, |v| (vec![(v % 256) as u8], (v % 256) as f32)),
            (DType::I8, |v| {
                (vec![(v % 256) as u8], f32::from((v % 256) as u8 as i8))
            }),
            (DType::U16, |v| {
                ((v as u16).to_le_bytes().to_vec(), f32::from(v as u16))
            }),
            (DType::I16, |v| {
                (
                    (v as u16 as i16).to_le_bytes().to_vec(),
                    f32::from(v as u16 as i16),
                )
            }),
        ];
        for (dtype, encode) in cases {
            for samples in [1, 2] {
                let (mut ints, mut floats) = (Vec::new(), Vec::new());
                for &v in &raw {
                    let (b, f) = encode(v);
                    if samples == 2 {
                        ints.extend(std::iter::repeat_n(0xA5, b.len()));
                    }
                    ints.extend(b);
                    floats.extend(f.to_le_bytes());
                }
                let (mut mi, mut mf) = (LaplacianMoments::default(), LaplacianMoments::default());
                PlaneFocus::new(dtype, w, samples - 1, samples).add_rows(&ints, &mut mi);
                PlaneFocus::new(DType::F32, w, 0, 1).add_rows(&floats, &mut mf);
                let what = format!("{dtype:?}, {samples} samples");
                assert_eq!(mi.n, mf.n, "{what}");
                assert!(
                    (mi.mean - mf.mean).abs() <= 1e-9 * mf.mean.abs().max(1.0),
                    "{what}"
                );
                assert!((mi.m2 - mf.m2).abs() <= 1e-9 * mf.m2, "{what}");
            }
        }
    }

    #[test]
    fn merge_matches_one_pass() {
        let vals: Vec<f64> = (0..100).map(|i| f64::from(i * i % 17)).collect();
        let mut whole = LaplacianMoments::default();
        whole.add_all(&vals);
        let (mut a, mut b) = (LaplacianMoments::default(), LaplacianMoments::default());
        a.add_all(&vals[..37]);
        b.add_all(&vals[37..]);
        b.merge(&a);
        assert_eq!(whole.n, b.n);
        assert!((whole.mean - b.mean).abs() < 1e-12);
        assert!((whole.m2 - b.m2).abs() < 1e-9);
    }
}
