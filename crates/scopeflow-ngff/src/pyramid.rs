//! 2×2 mean of a band of rows, for the next pyramid level. Edge pixels of odd sizes average
//! what exists (1 or 2 values); integers round half away from zero, so a flat image stays flat.

use scopeflow_core::DType;

macro_rules! mean2x2 {
    ($t:ty, $acc:ty, $src:expr, $rows:expr, $w:expr, $out:expr, $round:expr) => {{
        let size = std::mem::size_of::<$t>();
        let w2 = $w.div_ceil(2);
        let get = |r: usize, c: usize| -> $acc {
            let i = (r * $w + c) * size;
            <$t>::from_le_bytes($src[i..i + size].try_into().expect("sample size")) as $acc
        };
        for r2 in 0..$rows.div_ceil(2) {
            let r = r2 * 2;
            let two_rows = r + 1 < $rows;
            for c2 in 0..w2 {
                let c = c2 * 2;
                let two_cols = c + 1 < $w;
                let mut sum = get(r, c);
                let mut n: $acc = 1 as $acc;
                if two_cols {
                    sum += get(r, c + 1);
                    n += 1 as $acc;
                }
                if two_rows {
                    sum += get(r + 1, c);
                    n += 1 as $acc;
                    if two_cols {
                        sum += get(r + 1, c + 1);
                        n += 1 as $acc;
                    }
                }
                let v: $t = $round(sum, n) as $t;
                let o = (r2 * w2 + c2) * size;
                $out[o..o + size].copy_from_slice(&v.to_le_bytes());
            }
        }
    }};
}

fn round_unsigned(sum: u64, n: u64) -> u64 {
    (sum + n / 2) / n
}

fn round_signed(sum: i64, n: i64) -> i64 {
    if sum >= 0 {
        (sum + n / 2) / n
    } else {
        (sum - n / 2) / n
    }
}

fn mean_float(sum: f64, n: f64) -> f64 {
    sum / n
}

/// Averages `rows` × `width` pixels (little-endian `dtype`) into ceil(rows/2) × ceil(width/2).
pub(crate) fn downsample(dtype: DType, src: &[u8], rows: usize, width: usize) -> Vec<u8> {
    let mut out = vec![0u8; rows.div_ceil(2) * width.div_ceil(2) * dtype.size()];
    match dtype {
        DType::U8 => mean2x2!(u8, u64, src, rows, width, out, round_unsigned),
        DType::U16 => mean2x2!(u16, u64, src, rows, width, out, round_unsigned),
        DType::U32 => mean2x2!(u32, u64, src, rows, width, out, round_unsigned),
        DType::I8 => mean2x2!(i8, i64, src, rows, width, out, round_signed),
        DType::I16 => mean2x2!(i16, i64, src, rows, width, out, round_signed),
        DType::I32 => mean2x2!(i32, i64, src, rows, width, out, round_signed),
        DType::F32 => mean2x2!(f32, f64, src, rows, width, out, mean_float),
        DType::F64 => mean2x2!(f64, f64, src, rows, width, out, mean_float),
    }
    out
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
        let out = downsample(DType::U16, &src, 3, 3);
        assert_eq!(out, u16s(&[3, 15, 8, 100]));
    }

    #[test]
    fn rounds_half_away_from_zero() {
        let src: Vec<u8> = [-1i16, -2, -1, -2]
            .iter()
            .flat_map(|x| x.to_le_bytes())
            .collect();
        let out = downsample(DType::I16, &src, 2, 2);
        assert_eq!(i16::from_le_bytes([out[0], out[1]]), -2);
        let out = downsample(DType::U8, &[1, 2, 1, 2], 2, 2);
        assert_eq!(out, vec![2]);
    }

    #[test]
    fn floats_average_exactly() {
        let src: Vec<u8> = [0.5f32, 1.0, 0.0, 0.25]
            .iter()
            .flat_map(|x| x.to_le_bytes())
            .collect();
        let out = downsample(DType::F32, &src, 2, 2);
        assert_eq!(f32::from_le_bytes(out[..4].try_into().unwrap()), 0.4375);
    }
}
