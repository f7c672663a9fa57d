//! Small cases whose figures are worked out by hand (the arithmetic is in the comments).

use scopeflow_core::{ChannelQc, DType};
use scopeflow_qc::ChannelAccumulator;

use crate::util::close;

fn qc_of(dtype: DType, bytes: &[u8]) -> ChannelQc {
    let mut acc = ChannelAccumulator::new(dtype);
    acc.add(bytes);
    acc.finish(3, Some("GFP".into()))
}

fn assert_close(what: &str, got: Option<f64>, want: f64) {
    let got = got.unwrap_or_else(|| panic!("{what}: None, expected {want}"));
    assert!(
        close(got, want, 1e-12),
        "{what}: got {got}, expected {want}"
    );
}

#[test]
fn u8_otsu_snr_saturation() {
    // 10×3, 12×2, 200, 255×2 (n = 8). Between-class variance w0·w1·(m0−m1)²:
    //   after 10:  3·5·(10 − 734/5)²      = 280 713.6
    //   after 12:  5·3·(54/5 − 710/3)²    = 765 236.3   <- maximum
    //   after 200: 6·2·(254/6 − 255)²     = 542 725.3
    let qc = qc_of(DType::U8, &[10, 12, 255, 10, 200, 12, 10, 255]);
    assert_eq!(
        (qc.index, qc.name.as_deref(), qc.count),
        (3, Some("GFP"), 8)
    );
    assert_eq!(qc.otsu_threshold, Some(12.0));
    assert_eq!((qc.n_background, qc.n_signal), (Some(5), Some(3)));
    assert_close("saturation", qc.saturation_fraction, 2.0 / 8.0);
    // background 10,10,10,12,12: mean 10.8, var (3·0.64 + 2·1.44)/5 = 0.96
    assert_close("mean_background", qc.mean_background, 10.8);
    assert_close("std_background", qc.std_background, 0.96f64.sqrt());
    assert_close("mean_signal", qc.mean_signal, 710.0 / 3.0);
    assert_close("snr", qc.snr, (710.0 / 3.0 - 10.8) / 0.96f64.sqrt());
    assert_eq!((qc.min, qc.max), (Some(10.0), Some(255.0)));
    assert_close("mean", qc.mean, 764.0 / 8.0);
}

#[test]
fn u16_otsu_snr_saturation() {
    // 100×6, 1000, 65535 (n = 8):
    //   after 100:  6·2·(100 − 33267.5)²          = 1.320e10
    //   after 1000: 7·1·(1600/7 − 65535)²         = 2.985e10  <- maximum
    let px: Vec<u16> = vec![100, 100, 65535, 100, 100, 1000, 100, 100];
    let qc = qc_of(
        DType::U16,
        &px.iter().flat_map(|v| v.to_le_bytes()).collect::<Vec<_>>(),
    );
    assert_eq!(qc.otsu_threshold, Some(1000.0));
    assert_eq!((qc.n_background, qc.n_signal), (Some(7), Some(1)));
    assert_close("saturation", qc.saturation_fraction, 1.0 / 8.0);
    let mb = 1600.0 / 7.0;
    let sd = ((6.0 * (100.0 - mb) * (100.0 - mb) + (1000.0 - mb) * (1000.0 - mb)) / 7.0f64).sqrt();
    assert_close("mean_background", qc.mean_background, mb);
    assert_close("std_background", qc.std_background, sd);
    assert_close("snr", qc.snr, (65535.0 - mb) / sd);
}

#[test]
fn i16_negative_values_and_signed_saturation() {
    // −5×2, −3×2, 100, 32767 (n = 6):
    //   after −5:  2·4·(−5 − 32856/4)²   = 5.406e8
    //   after −3:  4·2·(−4 − 32867/2)²   = 2.162e9
    //   after 100: 5·1·(84/5 − 32767)²   = 5.363e9  <- maximum
    let px: Vec<i16> = vec![-5, 100, -3, 32767, -5, -3];
    let qc = qc_of(
        DType::I16,
        &px.iter().flat_map(|v| v.to_le_bytes()).collect::<Vec<_>>(),
    );
    assert_eq!(qc.otsu_threshold, Some(100.0));
    assert_close(
        "saturation (== i16::MAX)",
        qc.saturation_fraction,
        1.0 / 6.0,
    );
    let mb = 84.0 / 5.0;
    let var = (2.0 * (-5.0 - mb) * (-5.0 - mb)
        + 2.0 * (-3.0 - mb) * (-3.0 - mb)
        + (100.0 - mb) * (100.0 - mb))
        / 5.0;
    assert_close("mean_background", qc.mean_background, mb);
    assert_close("std_background", qc.std_background, f64::sqrt(var));
    assert_close("snr", qc.snr, (32767.0 - mb) / f64::sqrt(var));
    assert_eq!((qc.min, qc.max), (Some(-5.0), Some(32767.0)));
}

#[test]
fn integer_single_value_has_threshold_at_dtype_minimum() {
    // Every between-class variance is 0, numpy's argmax picks bin 0: the dtype minimum for the
    // full-range histograms, so the background is empty.
    let qc = qc_of(DType::I16, &[7, 0, 7, 0, 7, 0]);
    assert_eq!(qc.otsu_threshold, Some(-32768.0));
    assert_eq!((qc.n_background, qc.n_signal), (Some(0), Some(3)));
    assert_eq!(
        (qc.snr, qc.mean_background, qc.std_background),
        (None, None, None)
    );
    assert_eq!(qc.mean_signal, Some(7.0));
    assert_eq!(qc.saturation_fraction, Some(0.0));
}

#[test]
fn u32_dense_window_and_map_together() {
    // 5×2 (dense window), 70000×2, 70001, u32::MAX (map), n = 6:
    //   after 5:     2·4·(5 − 4295177296/4)²        = 9.22e18
    //   after 70000: 4·2·(35002.5 − 4295037296/2)²  = 3.69e19
    //   after 70001: 5·1·(42002.2 − 4294967295)²    = 9.22e19  <- maximum
    let px: Vec<u32> = vec![70000, 5, u32::MAX, 70001, 5, 70000];
    let qc = qc_of(
        DType::U32,
        &px.iter().flat_map(|v| v.to_le_bytes()).collect::<Vec<_>>(),
    );
    assert_eq!(qc.otsu_threshold, Some(70001.0));
    assert_eq!((qc.n_background, qc.n_signal), (Some(5), Some(1)));
    assert_close("saturation", qc.saturation_fraction, 1.0 / 6.0);
    let mb = 210011.0 / 5.0;
    let var = (2.0 * (5.0 - mb) * (5.0 - mb)
        + 2.0 * (70000.0 - mb) * (70000.0 - mb)
        + (70001.0 - mb) * (70001.0 - mb))
        / 5.0;
    assert_close("mean_background", qc.mean_background, mb);
    assert_close("snr", qc.snr, (4294967295.0 - mb) / f64::sqrt(var));
    // i32 reads the same bits as signed: u32::MAX is −1, and i32::MAX is the saturation value.
    let px: Vec<i32> = vec![-1, i32::MAX, 3];
    let qc = qc_of(
        DType::I32,
        &px.iter().flat_map(|v| v.to_le_bytes()).collect::<Vec<_>>(),
    );
    assert_eq!((qc.min, qc.max), (Some(-1.0), Some(i32::MAX as f64)));
    assert_close("saturation", qc.saturation_fraction, 1.0 / 3.0);
}

#[test]
fn f32_bin_centre_threshold_nan_and_saturation_at_one() {
    // 0, 0.25×2, 0.5, 1.0×3 and a NaN. lo = 0, hi = 1: value v sits at the left edge of bin
    // v·65536, whose centre is v + 2^-17. With centres, between-class variance:
    //   after 0:    1·6·(0 − 4/6)²        ≈ 2.67
    //   after 0.25: 3·4·(1/6 − 3.5/4)²    ≈ 6.02
    //   after 0.5:  4·3·(1/4 − 1)²        ≈ 6.75  <- maximum
    // so t = 0.5 + 2^-17 and the background is {0, 0.25, 0.25, 0.5}.
    let px: Vec<f32> = vec![1.0, 0.25, f32::NAN, 0.0, 1.0, 0.5, 0.25, 1.0];
    let qc = qc_of(
        DType::F32,
        &px.iter().flat_map(|v| v.to_le_bytes()).collect::<Vec<_>>(),
    );
    assert_eq!(qc.count, 8);
    assert_eq!(qc.otsu_threshold, Some(0.5 + 2f64.powi(-17)));
    assert_eq!((qc.n_background, qc.n_signal), (Some(4), Some(3)));
    assert_close(
        "saturation (NaN counted in count)",
        qc.saturation_fraction,
        3.0 / 8.0,
    );
    assert_close("mean_background", qc.mean_background, 0.25);
    assert_close("std_background", qc.std_background, 0.03125f64.sqrt());
    assert_close("snr", qc.snr, 0.75 / 0.03125f64.sqrt());
    assert_close("mean (finite pixels)", qc.mean, 4.0 / 7.0);
    assert_eq!((qc.min, qc.max), (Some(0.0), Some(1.0)));

    let mut acc = ChannelAccumulator::new(DType::F32);
    acc.add(&px.iter().flat_map(|v| v.to_le_bytes()).collect::<Vec<_>>());
    assert_eq!(acc.non_finite(), 1);
}

#[test]
fn float_constant_has_no_threshold() {
    let px = [0.5f64, 0.5, f64::INFINITY];
    let qc = qc_of(
        DType::F64,
        &px.iter().flat_map(|v| v.to_le_bytes()).collect::<Vec<_>>(),
    );
    assert_eq!(
        (qc.count, qc.min, qc.max, qc.mean),
        (3, Some(0.5), Some(0.5), Some(0.5))
    );
    assert_eq!(qc.saturation_fraction, Some(0.0));
    assert_eq!(
        (qc.otsu_threshold, qc.snr, qc.n_signal, qc.n_background),
        (None, None, None, None)
    );
}

#[test]
fn empty_channel_has_only_a_zero_count() {
    for dtype in [DType::U8, DType::U16, DType::I32, DType::F32] {
        let qc = ChannelAccumulator::new(dtype).finish(0, None);
        assert_eq!(qc.count, 0);
        assert_eq!(
            (qc.saturation_fraction, qc.snr, qc.otsu_threshold, qc.min),
            (None, None, None, None)
        );
    }
    // all-NaN: a count and a saturation fraction, nothing else
    let qc = qc_of(DType::F32, &f32::NAN.to_le_bytes());
    assert_eq!(
        (qc.count, qc.saturation_fraction, qc.min),
        (1, Some(0.0), None)
    );
}

#[test]
fn zero_background_spread_gives_no_snr() {
    // 3×4, 9×4: background {3,3,3,3} has std 0
    let qc = qc_of(DType::U8, &[3, 9, 3, 9, 3, 9, 3, 9]);
    assert_eq!(qc.otsu_threshold, Some(3.0));
    assert_eq!(qc.std_background, Some(0.0));
    assert_eq!(qc.snr, None);
    assert_eq!(qc.mean_signal, Some(9.0));
}

#[test]
fn interleaved_sample_equals_extracted_channel() {
    // 7 RGB u16 pixels plus a trailing partial group holding R and G only.
    let mut bytes = Vec::new();
    let mut channels: [Vec<u8>; 3] = Default::default();
    for i in 0..7u16 {
        for (s, ch) in channels.iter_mut().enumerate() {
            let v = (i * 37 + s as u16 * 1000) % 4096;
            bytes.extend(v.to_le_bytes());
            ch.extend(v.to_le_bytes());
        }
    }
    for (s, ch) in channels.iter_mut().enumerate().take(2) {
        let v = 4000 + s as u16;
        bytes.extend(v.to_le_bytes());
        ch.extend(v.to_le_bytes());
    }
    for (s, ch) in channels.iter().enumerate() {
        let mut a = ChannelAccumulator::new(DType::U16);
        a.add_interleaved(&bytes, s, 3);
        let mut b = ChannelAccumulator::new(DType::U16);
        b.add(ch);
        assert_eq!(a.count(), if s < 2 { 8 } else { 7 });
        assert_eq!(a.finish(s, None), b.finish(s, None), "sample {s}");
    }
}
