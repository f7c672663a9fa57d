//! The bounded-memory grid (past the distinct-value cap) against the exact computation on
//! realistic continuous data: the brief's bound is 1e-3 relative.

use scopeflow_core::DType;
use scopeflow_qc::ChannelAccumulator;

use crate::util::{Rng, camera_u16, close};

fn compare(dtype: DType, bytes: &[u8], what: &str) {
    let mut exact = ChannelAccumulator::new(dtype);
    exact.add(bytes);
    let mut grid = ChannelAccumulator::with_distinct_cap(dtype, 1000);
    // several slices, as a converter would feed it
    bytes.chunks(dtype.size() * 4099).for_each(|c| grid.add(c));
    let (e, g) = (exact.finish(0, None), grid.finish(0, None));
    assert_eq!(
        (e.count, e.min, e.max, e.saturation_fraction),
        (g.count, g.min, g.max, g.saturation_fraction),
        "{what}"
    );
    assert!(
        close(e.mean.unwrap(), g.mean.unwrap(), 1e-12),
        "{what}: mean"
    );
    let rel = |a: Option<f64>, b: Option<f64>| (a.unwrap() - b.unwrap()).abs() / a.unwrap().abs();
    for (name, a, b) in [
        ("snr", e.snr, g.snr),
        ("mean_background", e.mean_background, g.mean_background),
        ("std_background", e.std_background, g.std_background),
        ("mean_signal", e.mean_signal, g.mean_signal),
        (
            "n_background",
            e.n_background.map(|n| n as f64),
            g.n_background.map(|n| n as f64),
        ),
    ] {
        assert!(rel(a, b) < 1e-3, "{what}: {name} exact {a:?} grid {b:?}");
    }
    // The threshold moves by about one of the float definition's 65,536 bins at most.
    let bin = (e.max.unwrap() - e.min.unwrap()) / 65536.0;
    let dt = (e.otsu_threshold.unwrap() - g.otsu_threshold.unwrap()).abs();
    assert!(
        dt <= 2.0 * bin,
        "{what}: threshold moved {dt}, {} bins",
        dt / bin
    );
}

#[test]
fn float_grid_stays_within_1e3_of_exact() {
    let mut r = Rng::new(7);
    let cam = camera_u16(300_000, 3);
    let jittered: Vec<u8> = cam
        .iter()
        .flat_map(|&v| {
            ((f32::from(v) + r.unit() as f32) / 4095.0)
                .min(1.0)
                .to_le_bytes()
        })
        .collect();
    compare(DType::F32, &jittered, "f32 camera + jitter");
    let f64s: Vec<u8> = cam
        .iter()
        .flat_map(|&v| (f64::from(v) * 1.7 + r.normal() * 0.3 - 40.0).to_le_bytes())
        .collect();
    compare(DType::F64, &f64s, "f64 camera, negative offset");
    // Overlapping classes: the threshold falls where pixels are dense, the hard case.
    let overlap: Vec<u8> = (0..300_000)
        .flat_map(|_| {
            let x = if r.unit() < 0.3 {
                0.18 + 0.04 * r.normal()
            } else {
                0.1 + 0.02 * r.normal()
            };
            (x as f32).to_le_bytes()
        })
        .collect();
    compare(DType::F32, &overlap, "f32 overlapping classes");
}

#[test]
fn u32_grid_stays_within_1e3_of_exact() {
    // A range far wider than 2^19 integers, so grid bins hold many integers each.
    let mut r = Rng::new(9);
    let px: Vec<u8> = camera_u16(300_000, 4)
        .iter()
        .flat_map(|&v| ((f64::from(v) * 5000.0 + r.unit() * 5000.0) as u32).to_le_bytes())
        .collect();
    compare(DType::U32, &px, "u32 wide range");
    let overlap: Vec<u8> = (0..300_000)
        .flat_map(|_| {
            let x = if r.unit() < 0.3 {
                1.8e8 + 4e7 * r.normal()
            } else {
                1e8 + 2e7 * r.normal()
            };
            (x as u32).to_le_bytes()
        })
        .collect();
    compare(DType::U32, &overlap, "u32 overlapping classes");
}
