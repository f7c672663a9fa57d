//! 2×2 mean of a band of rows, for the next pyramid level. Edge pixels of odd sizes average
//! what exists (1 or 2 values); integers round half away from zero, so a flat image stays flat.

use std::collections::TryReserveError;

use scopeflow_core::DType;

/// Row-wise: each output row sums the horizontal pairs of one or two input rows into an
/// accumulator row, then divides by how many pixels each output pixel covered. Iterating
/// `chunks_exact` pairs (no per-pixel index arithmetic) lets the compiler vectorise it.
macro_rules! mean2x2 {
    ($t:ty, $acc:ty, $src:expr, $rows:expr, $w:expr, $out:expr, $round:expr) => {{
        const SIZE: usize = std::mem::size_of::<$t>();
        let load =
            |b: &[u8]| -> $acc { <$t>::from_le_bytes(b.try_into().expect("sample size")) as $acc };
        let w = $w;
        let w2 = w.div_ceil(2);
        let row_bytes = w * SIZE;
        let mut acc: Vec<$acc> = Vec::new();
        acc.try_reserve_exact(w2)?;
        acc.resize(w2, <$acc>::default());
        let add_row = |acc: &mut [$acc], row: &[u8]| {
            for (o, pair) in acc.iter_mut().zip(row.chunks_exact(2 * SIZE)) {
                *o += load(&pair[..SIZE]) + load(&pair[SIZE..]);
            }
            if w % 2 == 1 {
                acc[w2 - 1] += load(&row[(w - 1) * SIZE..]);
            }
        };
        for (r2, out_row) in $out.chunks_exact_mut(w2 * SIZE).enumerate() {
            let r = r2 * 2;
            acc.iter_mut().for_each(|a| *a = <$acc>::default());
            add_row(&mut acc, &$src[r * row_bytes..(r + 1) * row_bytes]);
            let rows_here = if r + 1 < $rows {
                add_row(&mut acc, &$src[(r + 1) * row_bytes..(r + 2) * row_bytes]);
                2
            } else {
                1
            };
            for (c2, (o, &sum)) in out_row.chunks_exact_mut(SIZE).zip(&acc).enumerate() {
                let cols = if 2 * c2 + 1 < w { 2 } else { 1 };
                let v: $t = $round(sum, (rows_here * cols) as $acc) as $t;
                o.copy_from_slice(&v.to_le_bytes());
            }
        }
    }};
}

macro_rules! rounding {
    ($name:ident, $t:ty, unsigned) => {
        fn $name(sum: $t, n: $t) -> $t {
            (sum + n / 2) / n
        }
    };
    ($name:ident, $t:ty, signed) => {
        fn $name(sum: $t, n: $t) -> $t {
            if sum >= 0 {
                (sum + n / 2) / n
            } else {
                (sum - n / 2) / n
            }
        }
    };
}

// Four 8- or 16-bit samples fit 32-bit sums, which vectorise twice as wide as 64-bit ones.
rounding!(round_u32, u32, unsigned);
rounding!(round_u64, u64, unsigned);
rounding!(round_i32, i32, signed);
rounding!(round_i64, i64, signed);

fn mean_float(sum: f64, n: f64) -> f64 {
    sum / n
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
