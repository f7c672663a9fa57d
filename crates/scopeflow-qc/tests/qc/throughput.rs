//! Throughput of `add`, the per-pixel hot path. Run in release:
//! `cargo test --release -p scopeflow-qc --test qc throughput -- --ignored --nocapture`
//! (`QC_BENCH=u16` for the u16 figures only). The machine may be shared, so besides the best
//! wall time each line gives pixels per second of this thread's CPU time.

use std::time::Instant;

use scopeflow_core::DType;
use scopeflow_qc::ChannelAccumulator;

use crate::util::{Rng, camera_u16, u16_bytes};

/// CPU time of this thread in seconds (utime + stime from procfs, 10 ms ticks).
fn thread_cpu() -> f64 {
    let stat = std::fs::read_to_string("/proc/thread-self/stat").unwrap_or_default();
    let after = stat.rsplit_once(')').map_or("", |(_, r)| r);
    // After the command: state ppid pgrp ...; utime and stime are fields 14 and 15 overall.
    let f: Vec<f64> = after
        .split_whitespace()
        .skip(1)
        .filter_map(|x| x.parse().ok())
        .collect();
    (f.get(10).copied().unwrap_or(0.0) + f.get(11).copied().unwrap_or(0.0)) / 100.0
}

fn report(label: &str, pixels: usize, best: f64, cpu: f64) {
    println!(
        "{label:>36}: {:5.2} G px/s (best wall), {:5.2} G px/s (CPU time)",
        pixels as f64 / best / 1e9,
        pixels as f64 * 5.0 / cpu / 1e9
    );
}

/// Five runs of `run`, each over `pixels` channel pixels.
fn measure(label: &str, pixels: usize, mut run: impl FnMut()) {
    let mut best = f64::INFINITY;
    let cpu0 = thread_cpu();
    for _ in 0..5 {
        let t = Instant::now();
        run();
        best = best.min(t.elapsed().as_secs_f64());
    }
    report(label, pixels, best, thread_cpu() - cpu0);
}

/// One accumulator fed 1 MiB slices, as a converter hands over decoded strips or tiles.
fn one(label: &str, dtype: DType, bytes: &[u8], samples: usize) {
    measure(label, bytes.len() / dtype.size() / samples, || {
        let mut acc = ChannelAccumulator::new(dtype);
        for chunk in bytes.chunks((samples * dtype.size()) << 19) {
            if samples == 1 {
                acc.add(chunk);
            } else {
                acc.add_interleaved(chunk, 0, samples);
            }
        }
        std::hint::black_box(acc.count());
    });
}

fn le<T: Copy, const N: usize>(v: impl Iterator<Item = T>, f: impl FnMut(T) -> [u8; N]) -> Vec<u8> {
    v.flat_map(f).collect()
}

#[test]
#[ignore = "benchmark; run in release with --ignored --nocapture"]
fn throughput() {
    let only_u16 = std::env::var("QC_BENCH").is_ok_and(|b| b == "u16");
    let n = 64 << 20;
    let cam = camera_u16(n, 1);
    let cam_bytes = u16_bytes(&cam);
    one("u16 camera", DType::U16, &cam_bytes, 1);
    one("u16 constant", DType::U16, &u16_bytes(&vec![500u16; n]), 1);
    // The converter's pattern: a fresh accumulator per 2048×2048 plane, fed 64-row bands and
    // merged into the channel total.
    measure("u16 camera, accumulator per plane", n, || {
        let mut total = ChannelAccumulator::new(DType::U16);
        for plane in cam_bytes.chunks(2048 * 2048 * 2) {
            let mut local = ChannelAccumulator::new(DType::U16);
            plane.chunks(64 * 2048 * 2).for_each(|band| local.add(band));
            total.merge(&local);
        }
        std::hint::black_box(total.count());
    });
    if only_u16 {
        return;
    }
    let mut r = Rng::new(2);
    let uniform: Vec<u16> = (0..n).map(|_| r.next_u64() as u16).collect();
    one(
        "u16 uniform random (worst case)",
        DType::U16,
        &u16_bytes(&uniform),
        1,
    );
    one("u16 RGB, one sample of 3", DType::U16, &cam_bytes, 3);
    let cam8: Vec<u8> = cam.iter().map(|&v| (v / 4).min(255) as u8).collect();
    one("u8 camera", DType::U8, &cam8, 1);
    let quarter = &cam[..n / 4];
    one(
        "u32 holding 16-bit data",
        DType::U32,
        &le(quarter.iter(), |&v| u32::from(v).to_le_bytes()),
        1,
    );
    one(
        "u32 above 65535",
        DType::U32,
        &le(quarter.iter(), |&v| {
            (u32::from(v) + 1_000_000).to_le_bytes()
        }),
        1,
    );
    one(
        "f32 12-bit camera / 4095",
        DType::F32,
        &le(quarter.iter(), |&v| {
            (f32::from(v.min(4095)) / 4095.0).to_le_bytes()
        }),
        1,
    );
    let jitter = le(quarter.iter(), |&v| {
        ((f32::from(v) + r.unit() as f32) / 4095.0).to_le_bytes()
    });
    one("f32 continuous camera-like (grid)", DType::F32, &jitter, 1);
    let random = le(0..n / 4, |_| (r.unit() as f32).to_le_bytes());
    one("f32 uniform random (grid, worst)", DType::F32, &random, 1);
}
