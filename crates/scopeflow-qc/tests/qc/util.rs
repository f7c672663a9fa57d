//! Deterministic pixel generators shared by the tests.

/// xorshift64*: deterministic, dependency-free noise.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// Uniform in [0, 1).
    pub fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// Roughly normal (Irwin–Hall of 4 uniforms), mean 0, std 1.
    pub fn normal(&mut self) -> f64 {
        ((0..4).map(|_| self.unit()).sum::<f64>() - 2.0) * 3f64.sqrt()
    }
}

/// Camera-like u16 frame: offset 100 + background ~20 ± 4.5, 10% of pixels bright "cells".
pub fn camera_u16(n: usize, seed: u64) -> Vec<u16> {
    let mut r = Rng::new(seed);
    (0..n)
        .map(|_| {
            let bright = r.unit() < 0.1;
            let mean = if bright { 800.0 } else { 120.0 };
            let sd = if bright { 30.0 } else { 4.5 };
            (mean + sd * r.normal()).clamp(0.0, 65535.0) as u16
        })
        .collect()
}

pub fn to_le<T: Copy>(values: &[T], f: impl Fn(T) -> Vec<u8>) -> Vec<u8> {
    values.iter().flat_map(|&v| f(v)).collect()
}

pub fn u16_bytes(v: &[u16]) -> Vec<u8> {
    to_le(v, |x| x.to_le_bytes().to_vec())
}

/// Relative comparison with an absolute floor for values near 0.
pub fn close(a: f64, b: f64, rel: f64) -> bool {
    a == b || (a - b).abs() <= rel * a.abs().max(b.abs()).max(1e-300)
}
