//! Splitting a channel's pixels into bands accumulated separately and merged must give what
//! one accumulator over all of them gives — the converters rely on it to parallelise.

use proptest::prelude::*;
use scopeflow_core::{ChannelQc, DType};
use scopeflow_qc::ChannelAccumulator;

use crate::util::close;

/// Camera-like pixel from a random word: mostly a dim background, some bright signal, a few
/// saturated; floats are 12-bit levels / 4095, so values repeat as in real data.
fn camera_pixel(dtype: DType, raw: u32) -> Vec<u8> {
    let level = match raw >> 28 {
        0 => 4095,
        1..=3 => 2000 + (raw >> 8) % 300,
        _ => 100 + (raw >> 8) % 40,
    };
    match dtype {
        DType::U8 => vec![(level >> 4) as u8],
        DType::I8 => vec![((level >> 4) as i32 - 128) as i8 as u8],
        DType::U16 => (if level == 4095 {
            u16::MAX
        } else {
            level as u16
        })
        .to_le_bytes()
        .to_vec(),
        DType::I16 => (if level == 4095 {
            i16::MAX
        } else {
            level as i16 - 1000
        })
        .to_le_bytes()
        .to_vec(),
        // beyond the dense window, so the distinct-value map is exercised
        DType::U32 => (if level == 4095 { u32::MAX } else { level * 100 })
            .to_le_bytes()
            .to_vec(),
        DType::I32 => (if level == 4095 {
            i32::MAX
        } else {
            level as i32 * -50
        })
        .to_le_bytes()
        .to_vec(),
        DType::F32 => (level as f32 / 4095.0).to_le_bytes().to_vec(),
        DType::F64 => (f64::from(level) / 4095.0).to_le_bytes().to_vec(),
    }
}

/// Continuous values (almost all distinct), for the bounded-memory fallback.
fn continuous_pixel(dtype: DType, raw: u32) -> Vec<u8> {
    let x = f64::from(raw) / f64::from(u32::MAX);
    let x = if raw.is_multiple_of(7) {
        0.6 + x * 0.4
    } else {
        0.1 + x * x * 0.2
    };
    match dtype {
        DType::U32 => ((x * 3e9) as u32).to_le_bytes().to_vec(),
        DType::F32 => (x as f32).to_le_bytes().to_vec(),
        _ => x.to_le_bytes().to_vec(),
    }
}

/// One accumulator over everything, and one per band merged left to right.
fn single_and_merged(
    dtype: DType,
    cap: usize,
    bytes: &[u8],
    cuts: &[usize],
) -> (ChannelQc, ChannelQc) {
    let size = dtype.size();
    let px = bytes.len() / size;
    let mut bounds: Vec<usize> = cuts.iter().map(|c| c % (px + 1)).collect();
    bounds.extend([0, px]);
    bounds.sort_unstable();
    let mut one = ChannelAccumulator::with_distinct_cap(dtype, cap);
    one.add(bytes);
    let mut merged = ChannelAccumulator::with_distinct_cap(dtype, cap);
    for w in bounds.windows(2) {
        let mut part = ChannelAccumulator::with_distinct_cap(dtype, cap);
        part.add(&bytes[w[0] * size..w[1] * size]);
        merged.merge(&part);
    }
    (one.finish(0, None), merged.finish(0, None))
}

proptest! {
    #[test]
    fn merged_bands_equal_one_accumulator(
        d in 0..DType::ALL.len(),
        raw in prop::collection::vec(any::<u32>(), 0..3000),
        cuts in prop::collection::vec(any::<usize>(), 0..6),
    ) {
        let dtype = DType::ALL[d];
        let bytes: Vec<u8> = raw.iter().flat_map(|&r| camera_pixel(dtype, r)).collect();
        let (one, merged) = single_and_merged(dtype, scopeflow_qc::DEFAULT_DISTINCT_CAP, &bytes, &cuts);
        // Exact representations: identical to the last bit.
        prop_assert_eq!(one, merged);
    }

}

proptest! {
    // Each case allocates several 24 MiB grids: fewer cases keep the suite quick.
    #![proptest_config(ProptestConfig::with_cases(24))]
    #[test]
    fn merged_bands_match_one_accumulator_on_the_fallback_grid(
        d in 0..3usize,
        raw in prop::collection::vec(any::<u32>(), 200..2000),
        cuts in prop::collection::vec(any::<usize>(), 1..5),
    ) {
        let dtype = [DType::U32, DType::F32, DType::F64][d];
        let bytes: Vec<u8> = raw.iter().flat_map(|&r| continuous_pixel(dtype, r)).collect();
        let (one, merged) = single_and_merged(dtype, 50, &bytes, &cuts);
        // Same grid bins and counts; bin sums may round differently.
        prop_assert_eq!((one.count, one.min, one.max, one.saturation_fraction), (merged.count, merged.min, merged.max, merged.saturation_fraction));
        prop_assert_eq!((one.otsu_threshold, one.n_background, one.n_signal), (merged.otsu_threshold, merged.n_background, merged.n_signal));
        for (a, b) in [(one.mean, merged.mean), (one.mean_background, merged.mean_background),
                       (one.mean_signal, merged.mean_signal), (one.std_background, merged.std_background), (one.snr, merged.snr)] {
            prop_assert_eq!(a.is_some(), b.is_some());
            if let (Some(a), Some(b)) = (a, b) {
                prop_assert!(close(a, b, 1e-9), "{} vs {}", a, b);
            }
        }
    }

}

proptest! {
    #[test]
    fn interleaved_matches_contiguous_channel(
        d in 0..DType::ALL.len(),
        raw in prop::collection::vec(any::<u32>(), 0..1000),
        samples in 1..5usize,
        sample in 0..5usize,
    ) {
        let dtype = DType::ALL[d];
        let sample = sample % samples;
        let size = dtype.size();
        let bytes: Vec<u8> = raw.iter().flat_map(|&r| camera_pixel(dtype, r)).collect();
        let channel: Vec<u8> = bytes.chunks_exact(size).skip(sample).step_by(samples).flatten().copied().collect();
        let mut a = ChannelAccumulator::new(dtype);
        a.add_interleaved(&bytes, sample, samples);
        let mut b = ChannelAccumulator::new(dtype);
        b.add(&channel);
        prop_assert_eq!(a.finish(0, None), b.finish(0, None));
    }
}

#[test]
fn merge_order_does_not_matter() {
    let bytes: Vec<u8> = (0..5000u32)
        .flat_map(|i| camera_pixel(DType::F32, i.wrapping_mul(2_654_435_761)))
        .collect();
    let parts: Vec<ChannelAccumulator> = bytes
        .chunks(4 * 700)
        .map(|c| {
            let mut a = ChannelAccumulator::new(DType::F32);
            a.add(c);
            a
        })
        .collect();
    let mut forward = ChannelAccumulator::new(DType::F32);
    parts.iter().for_each(|p| forward.merge(p));
    let mut backward = ChannelAccumulator::new(DType::F32);
    parts.iter().rev().for_each(|p| backward.merge(p));
    assert_eq!(forward.finish(0, None), backward.finish(0, None));
}

#[test]
#[should_panic(expected = "different dtypes")]
fn merging_different_dtypes_panics() {
    ChannelAccumulator::new(DType::U8).merge(&ChannelAccumulator::new(DType::U16));
}

#[test]
fn accumulator_is_send_and_clone() {
    fn check<T: Send + Sync + Clone>() {}
    check::<ChannelAccumulator>();
}
