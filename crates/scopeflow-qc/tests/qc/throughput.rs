//! Throughput of `add`, the per-pixel hot path. Run in release:
//! `cargo test --release -p scopeflow-qc --test qc throughput -- --ignored --nocapture`

use std::time::Instant;

use scopeflow_core::DType;
use scopeflow_qc::ChannelAccumulator;

use crate::util::{Rng, camera_u16, to_le, u16_bytes};

fn measure(label: &str, dtype: DType, bytes: &[u8], interleaved: Option<usize>) {
    let pixels = bytes.len() / dtype.size();
    let mut best = f64::INFINITY;
    let mut acc = ChannelAccumulator::new(dtype);
    for _ in 0..5 {
        acc = ChannelAccumulator::new(dtype);
        let t = Instant::now();
        // 1 MiB slices, as a converter hands over decoded strips/tiles.
        for chunk in bytes.chunks(1 << 20) {
            match interleaved {
                None => acc.add(chunk),
                Some(s) => acc.add_interleaved(chunk, 0, s),
            }
        }
        best = best.min(t.elapsed().as_secs_f64());
    }
    let qc = acc.finish(0, None);
    let t = Instant::now();
    let mut other = acc.clone();
    other.merge(&acc);
    let merge_us = t.elapsed().as_secs_f64() * 1e6;
    let t = Instant::now();
    let _ = acc.finish(0, None);
    let finish_ms = t.elapsed().as_secs_f64() * 1e3;
    println!(
        "{label:>28}: {:7.2} G px/s ({:6.2} GB/s)  clone+merge {merge_us:.0} us  finish {finish_ms:.1} ms  snr {:?}",
        pixels as f64 / best / 1e9 / interleaved.unwrap_or(1) as f64,
        bytes.len() as f64 / best / 1e9,
        qc.snr
    );
}

#[test]
#[ignore = "benchmark; run in release with --ignored --nocapture"]
fn throughput() {
    let only = std::env::var("QC_BENCH").unwrap_or_default();
    let n = 64 << 20;
    if only == "grid" {
        let mut r = Rng::new(2);
        let cont: Vec<f32> = (0..n / 4).map(|_| r.unit() as f32).collect();
        measure("f32 continuous (grid)", DType::F32, &to_le(&cont, |v| v.to_le_bytes().to_vec()), None);
        return;
    }
    let cam = camera_u16(n, 1);
    measure("u16 camera", DType::U16, &u16_bytes(&cam), None);
    let mut r = Rng::new(2);
    let uniform: Vec<u16> = (0..n).map(|_| r.next_u64() as u16).collect();
    measure("u16 uniform random", DType::U16, &u16_bytes(&uniform), None);
    measure("u16 constant", DType::U16, &u16_bytes(&vec![500u16; n]), None);
    measure("u16 RGB, one sample", DType::U16, &u16_bytes(&cam), Some(3));
    let cam8: Vec<u8> = cam.iter().map(|&v| (v / 4).min(255) as u8).collect();
    measure("u8 camera", DType::U8, &cam8, None);
    let small = &cam[..n / 4];
    measure("u32 (16-bit data)", DType::U32, &to_le(small, |v| u32::from(v).to_le_bytes().to_vec()), None);
    measure("u32 (offset > 65535)", DType::U32, &to_le(small, |v| (u32::from(v) + 1_000_000).to_le_bytes().to_vec()), None);
    measure("f32 (12-bit camera / 4095)", DType::F32, &to_le(small, |v| (f32::from(v.min(4095)) / 4095.0).to_le_bytes().to_vec()), None);
    let cont: Vec<f32> = (0..n / 4).map(|_| r.unit() as f32).collect();
    measure("f32 continuous (grid)", DType::F32, &to_le(&cont, |v| v.to_le_bytes().to_vec()), None);
}
