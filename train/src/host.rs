//! Host memory: fp32 tensors as plain vectors (master weights, gradients,
//! stashes) and the deterministic seeds everything random derives from.

use std::collections::BTreeMap;

use candle_core::{Device, Tensor};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, Normal};

use crate::Result;

/// An fp32 tensor in host memory (row-major).
#[derive(Debug, Clone, PartialEq)]
pub struct HostTensor {
    /// Dimensions, outermost first.
    pub shape: Vec<usize>,
    /// Elements, row-major; `data.len()` is the product of `shape`.
    pub data: Vec<f32>,
}

/// Named host tensors (a layer's inputs or outputs, a batch).
pub type HostMap = BTreeMap<String, HostTensor>;

impl HostTensor {
    /// A tensor of zeros.
    pub fn zeros(shape: &[usize]) -> Self {
        Self { shape: shape.to_vec(), data: vec![0.0; shape.iter().product()] }
    }

    /// A tensor of `N(0, std²)` samples from `seed`.
    pub fn normal(shape: &[usize], std: f32, seed: u64) -> Self {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let count = shape.iter().product();
        let data = match Normal::new(0.0f32, std) {
            Ok(normal) => (0..count).map(|_| normal.sample(&mut rng)).collect(),
            Err(_) => vec![0.0; count],
        };
        Self { shape: shape.to_vec(), data }
    }

    /// Bytes the elements take (4 per element).
    pub fn bytes(&self) -> u64 {
        4 * self.data.len() as u64
    }

    /// Copies a candle tensor (any layout, f32) into host memory.
    pub fn from_tensor(tensor: &Tensor) -> Result<Self> {
        let shape = tensor.dims().to_vec();
        let data = tensor.flatten_all()?.to_vec1::<f32>()?;
        Ok(Self { shape, data })
    }

    /// A candle tensor holding a copy of the elements.
    pub fn to_tensor(&self) -> Result<Tensor> {
        Ok(Tensor::from_slice(&self.data, self.shape.as_slice(), &Device::Cpu)?)
    }

    /// `self += other`, element by element in fp32 (the one way gradients
    /// are accumulated across microbatches, on host and device alike).
    pub fn accumulate(&mut self, other: &HostTensor) {
        for (a, b) in self.data.iter_mut().zip(&other.data) {
            *a += *b;
        }
    }
}

/// SplitMix64: a well-mixed 64-bit hash, the building block of every seed.
pub fn splitmix64(x: u64) -> u64 {
    let mut z = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// One seed from several parts (e.g. run seed, step, microbatch, layer).
pub fn mix_seed(parts: &[u64]) -> u64 {
    parts.iter().fold(0x5EED, |acc, &part| splitmix64(acc ^ splitmix64(part)))
}

/// Uniform samples in `[0, 1)` from `seed`, one per element (dropout masks).
pub fn uniform(count: usize, seed: u64) -> Vec<f32> {
    (0..count as u64).map(|i| (splitmix64(seed ^ splitmix64(i)) >> 40) as f32 / (1u64 << 24) as f32).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tensor_round_trip_keeps_bits() {
        let host = HostTensor::normal(&[3, 4], 1.0, 7);
        let back = HostTensor::from_tensor(&host.to_tensor().unwrap()).unwrap();
        assert_eq!(host, back);
        assert_eq!(host.bytes(), 48);
    }

    #[test]
    fn seeds_differ_by_part_and_order() {
        assert_ne!(mix_seed(&[1, 2]), mix_seed(&[2, 1]));
        assert_eq!(mix_seed(&[1, 2, 3]), mix_seed(&[1, 2, 3]));
        let u = uniform(1000, 3);
        assert!(u.iter().all(|&x| (0.0..1.0).contains(&x)));
        let mean = u.iter().sum::<f32>() / 1000.0;
        assert!((mean - 0.5).abs() < 0.05, "mean {mean}");
    }

    #[test]
    fn accumulate_adds() {
        let mut a = HostTensor { shape: vec![2], data: vec![1.0, 2.0] };
        a.accumulate(&HostTensor { shape: vec![2], data: vec![0.5, -2.0] });
        assert_eq!(a.data, vec![1.5, 0.0]);
    }
}
