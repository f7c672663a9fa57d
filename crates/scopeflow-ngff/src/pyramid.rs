//! 2×2 mean of a band of rows, for the next pyramid level. Edge pixels of odd sizes average
//! what exists (1 or 2 values); integers round half away from zero, so a flat image stays flat.

use std::collections::TryReserveError;

use scopeflow_core::DType;

/// Each output row reads its one or two input rows in a single pass, pair by pair; every
/// pixel but the last of an odd width covers the same count, a power of two, so the division is
/// a constant shift. Iterating `chunks_exact` pairs (no per-pixel index arithmetic, no divisor
/// chosen per pixel) lets the compiler vectorise it: a divisor per pixel made it a scalar `div`.
macro_rules! mean2x2 {
    ($t:ty, $acc:ty, $src:expr, $rows:expr, $w:expr, $out:expr, $round:expr) => {{
        const SIZE: usize = std::mem::size_of::<$t>();
        let load =
            |b: &[u8]| -> $acc { <$t>::from_le_bytes(b.try_into().expect("sample size")) as $acc };
        let put = |o: &mut [u8], sum: $acc, shift: u32| {
            o.copy_from_slice(&($round(sum, shift) as $t).to_le_bytes())
        };
        let w = $w;
        let row_bytes = w * SIZE;
        let odd = w % 2 == 1;
        for (r2, out_row) in $out.chunks_exact_mut(w.div_ceil(2) * SIZE).enumerate() {
            let r = r2 * 2;
            let a = &$src[r * row_bytes..(r + 1) * row_bytes];
            let (body, edge) = out_row.split_at_mut(w / 2 * SIZE);
            if r + 1 < $rows {
                let b = &$src[(r + 1) * row_bytes..(r + 2) * row_bytes];
                for ((o, p), q) in body
                    .chunks_exact_mut(SIZE)
                    .zip(a.chunks_exact(2 * SIZE))
                    .zip(b.chunks_exact(2 * SIZE))
                {
                    // Row sums first, as floats have always been added.
                    let (top, bottom) = (
                        load(&p[..SIZE]) + load(&p[SIZE..]),
                        load(&q[..SIZE]) + load(&q[SIZE..]),
                    );
                    put(o, top + bottom, 2);
                }
                if odd {
                    put(
                        edge,
                        load(&a[row_bytes - SIZE..]) + load(&b[row_bytes - SIZE..]),
                        1,
                    );
                }
            } else {
                for (o, p) in body.chunks_exact_mut(SIZE).zip(a.chunks_exact(2 * SIZE)) {
                    put(o, load(&p[..SIZE]) + load(&p[SIZE..]), 1);
                }
                if odd {
                    put(edge, load(&a[row_bytes - SIZE..]), 0);
                }
            }
        }
    }};
}

/// `sum / 2^shift`, rounded half away from zero for integers.
macro_rules! rounding {
    ($name:ident, $t:ty, unsigned) => {
        fn $name(sum: $t, shift: u32) -> $t {
            (sum + ((1 << shift) >> 1)) >> shift
        }
    };
    ($name:ident, $t:ty, signed) => {
        fn $name(sum: $t, shift: u32) -> $t {
            let half = (1 << shift) >> 1;
            if sum >= 0 {
                (sum + half) >> shift
            } else {
                -((half - sum) >> shift)
            }
        }
    };
}

// Four 8- or 16-bit samples fit 32-bit sums, which vectorise twice as wide as 64-bit ones.
rounding!(round_u32, u32, unsigned);
rounding!(round_u64, u64, unsigned);
rounding!(round_i32, i32, signed);
rounding!(round_i64, i64, signed);

fn mean_float(sum: f64, shift: u32) -> f64 {
    sum / f64::from(1u32 << shift)
}

/// Averages `rows` × `width` pixels (little-endian `dtype`) into ceil(rows/2) × ceil(width/2).
/// `Err` when memory for the result runs out: the width comes from the file.
pub(crate) fn downsample(
    dtype: DType,
    src: &[u8],
    rows: usize,
    width: usize,
) -> Result<Vec<u8>, TryReserveError> {
    let len = rows.div_ceil(2) * width.div_ceil(2) * dtype.size();
    let mut out = Vec::new();
    out.try_reserve_exact(len)?;
    out.resize(len, 0u8);
    match dtype {
        DType::U8 => mean2x2!(u8, u32, src, rows, width, out, round_u32),
        DType::U16 => mean2x2!(u16, u32, src, rows, width, out, round_u32),
        DType::U32 => mean2x2!(u32, u64, src, rows, width, out, round_u64),
        DType::I8 => mean2x2!(i8, i32, src, rows, width, out, round_i32),
        DType::I16 => mean2x2!(i16, i32, src, rows, width, out, round_i32),
        DType::I32 => mean2x2!(i32, i64, src, rows, width, out, round_i64),
        DType::F32 => mean2x2!(f32, f64, src, rows, width, out, mean_float),
        DType::F64 => mean2x2!(f64, f64, src, rows, width, out, mean_float),
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn u16s(v: &[u16]) -> Vec<u8> {
        v.iter().flat_map(|x| x.to_le_bytes()).collect()
    }

    #[test]
    fn averages_blocks_and_edges() {
        // 3x3 -> 2x2: full block, right edge pair, bottom edge pair, corner single.
        let src = u16s(&[1, 2, 10, 3, 5, 20, 7, 8, 100]);
        let out = downsample(DType::U16, &src, 3, 3).unwrap();
        assert_eq!(out, u16s(&[3, 15, 8, 100]));
    }

    #[test]
    fn rounds_half_away_from_zero() {
        let src: Vec<u8> = [-1i16, -2, -1, -2]
            .iter()
            .flat_map(|x| x.to_le_bytes())
            .collect();
        let out = downsample(DType::I16, &src, 2, 2).unwrap();
        assert_eq!(i16::from_le_bytes([out[0], out[1]]), -2);
        let out = downsample(DType::U8, &[1, 2, 1, 2], 2, 2).unwrap();
        assert_eq!(out, vec![2]);
    }

    /// Every output pixel against the mean of the pixels it covers, taken one by one, for
    /// each pixel type and for even and odd sizes (the fast path only serves whole 2×2 blocks).
    #[test]
    fn matches_a_pixel_by_pixel_mean() {
        let mut seed = 0x2545_f491_4f6c_dd1du64;
        let mut next = move || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        for dtype in DType::ALL {
            let size = dtype.size();
            for (rows, w) in [
                (1, 1),
                (1, 6),
                (2, 2),
                (3, 3),
                (4, 7),
                (5, 8),
                (6, 33),
                (7, 64),
            ] {
                // Floats from integers: random bits would hold NaNs, whose payloads need not
                // survive the compiler's reordering of an addition.
                let src: Vec<u8> = (0..rows * w)
                    .flat_map(|_| match dtype {
                        DType::F32 => ((next() as i32) as f32 / 7.0).to_le_bytes().to_vec(),
                        DType::F64 => ((next() as i64) as f64 / 7.0).to_le_bytes().to_vec(),
                        _ => next().to_le_bytes()[..size].to_vec(),
                    })
                    .collect();
                let out = downsample(dtype, &src, rows, w).unwrap();
                let pixel = |r: usize, c: usize| &src[(r * w + c) * size..][..size];
                let (out_rows, out_w) = (rows.div_ceil(2), w.div_ceil(2));
                assert_eq!(out.len(), out_rows * out_w * size);
                for (r2, c2) in (0..out_rows).flat_map(|r2| (0..out_w).map(move |c2| (r2, c2))) {
                    let covered: Vec<&[u8]> = (2 * r2..(2 * r2 + 2).min(rows))
                        .flat_map(|r| (2 * c2..(2 * c2 + 2).min(w)).map(move |c| pixel(r, c)))
                        .collect();
                    assert_eq!(
                        &out[(r2 * out_w + c2) * size..][..size],
                        reference(dtype, &covered),
                        "{dtype:?} {rows}x{w} at ({r2}, {c2})"
                    );
                }
            }
        }
    }

    /// The mean of `px` (one to four samples, row by row), encoded as `dtype`: integers
    /// through i128 (little-endian two's complement, so encoding keeps the low bytes).
    fn reference(dtype: DType, px: &[&[u8]]) -> Vec<u8> {
        let size = dtype.size();
        if dtype.is_float() {
            let value = |b: &[u8]| match size {
                4 => f64::from(f32::from_le_bytes(b.try_into().unwrap())),
                _ => f64::from_le_bytes(b.try_into().unwrap()),
            };
            // Summed by rows (or by the column of an odd width) first, then divided.
            let rows = px
                .chunks(2)
                .map(|r| r.iter().map(|b| value(b)).sum::<f64>());
            let mean = rows.sum::<f64>() / px.len() as f64;
            return match size {
                4 => (mean as f32).to_le_bytes().to_vec(),
                _ => mean.to_le_bytes().to_vec(),
            };
        }
        let negative = |b: &[u8]| dtype.range().0 < 0.0 && b[size - 1] & 0x80 != 0;
        let sum: i128 = px
            .iter()
            .map(|b| {
                let mut wide = [0u8; 16];
                wide[..size].copy_from_slice(b);
                i128::from_le_bytes(wide) - if negative(b) { 1 << (8 * size) } else { 0 }
            })
            .sum();
        let n = px.len() as i128;
        let mean = if sum >= 0 {
            (sum + n / 2) / n
        } else {
            (sum - n / 2) / n
        };
        mean.to_le_bytes()[..size].to_vec()
    }

    #[test]
    fn floats_average_exactly() {
        let src: Vec<u8> = [0.5f32, 1.0, 0.0, 0.25]
            .iter()
            .flat_map(|x| x.to_le_bytes())
            .collect();
        let out = downsample(DType::F32, &src, 2, 2).unwrap();
        assert_eq!(f32::from_le_bytes(out[..4].try_into().unwrap()), 0.4375);
    }
}
