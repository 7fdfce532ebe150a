//! Benchmark models: a GPT-style transformer block stack ([`gpt`]) and a
//! residual MLP stack ([`mlp`]), both with configurable depth and width, on a
//! synthetic regression task (the engine never looks inside them).

pub mod gpt;
pub mod mlp;

use candle_core::{D, Tensor};

use crate::Result;
use crate::host::{HostMap, HostTensor, mix_seed};
use crate::model::{DataSource, Objective, TensorMap, input};

/// LayerNorm over the last dimension from primitive ops (so it has a
/// backward pass): `(x − mean) / sqrt(var + eps) · gain + bias`.
pub fn layer_norm(x: &Tensor, gain: &Tensor, bias: &Tensor) -> Result<Tensor> {
    let mean = x.mean_keepdim(D::Minus1)?;
    let centred = x.broadcast_sub(&mean)?;
    let var = centred.sqr()?.mean_keepdim(D::Minus1)?;
    let normed = centred.broadcast_div(&(var + 1e-5)?.sqrt()?)?;
    Ok(normed.broadcast_mul(gain)?.broadcast_add(bias)?)
}

/// Softmax over the last dimension; the max subtracted for stability is a
/// constant (detached), which leaves value and gradient unchanged.
pub fn softmax_last(x: &Tensor) -> Result<Tensor> {
    let max = x.max_keepdim(D::Minus1)?.detach();
    let num = x.broadcast_sub(&max)?.exp()?;
    let den = num.sum_keepdim(D::Minus1)?;
    Ok(num.broadcast_div(&den)?)
}

/// Mean squared error between the output `"x"` and the target `"x"`.
#[derive(Debug, Clone, Copy, Default)]
pub struct MseObjective;

impl Objective for MseObjective {
    fn loss(&self, outputs: &TensorMap, targets: &TensorMap) -> Result<Tensor> {
        let diff = (input(outputs, "x")? - input(targets, "x")?)?;
        Ok(diff.sqr()?.mean_all()?)
    }
}

/// Synthetic regression data: input `"x"` ~ N(0, 1) of a fixed shape per
/// microbatch; target `"x"` = ½ · the input reversed along its last axis (a
/// linear map the residual stacks can learn, so the loss falls).
#[derive(Debug, Clone)]
pub struct RegressionData {
    /// Shape of one microbatch's input (rows first).
    pub shape: Vec<usize>,
    /// Data seed.
    pub seed: u64,
}

impl DataSource for RegressionData {
    fn microbatch(&self, step: u64, microbatch: usize) -> Result<(HostMap, HostMap)> {
        let x = HostTensor::normal(&self.shape, 1.0, mix_seed(&[self.seed, step, microbatch as u64]));
        let width = self.shape.last().copied().unwrap_or(1).max(1);
        let target: Vec<f32> = x.data.chunks(width).flat_map(|row| row.iter().rev().map(|v| 0.5 * v)).collect();
        let y = HostTensor { shape: x.shape.clone(), data: target };
        Ok((HostMap::from([("x".to_string(), x)]), HostMap::from([("x".to_string(), y)])))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::Device;

    #[test]
    fn layer_norm_normalises_rows() {
        let x = Tensor::new(&[[1.0f32, 2.0, 3.0, 4.0]], &Device::Cpu).unwrap();
        let ones = Tensor::ones(4, candle_core::DType::F32, &Device::Cpu).unwrap();
        let zeros = ones.zeros_like().unwrap();
        let y = layer_norm(&x, &ones, &zeros).unwrap().flatten_all().unwrap().to_vec1::<f32>().unwrap();
        // mean 2.5, var 1.25: (x − 2.5)/sqrt(1.25 + 1e-5)
        let expected = [-1.341635, -0.447212, 0.447212, 1.341635];
        for (a, b) in y.iter().zip(expected) {
            assert!((a - b).abs() < 1e-5, "{a} vs {b}");
        }
    }

    #[test]
    fn softmax_rows_sum_to_one() {
        let x = Tensor::new(&[[1.0f32, 2.0, 3.0]], &Device::Cpu).unwrap();
        let y = softmax_last(&x).unwrap().flatten_all().unwrap().to_vec1::<f32>().unwrap();
        assert!((y.iter().sum::<f32>() - 1.0).abs() < 1e-6);
        assert!((y[2] - 0.665241).abs() < 1e-5);
    }

    #[test]
    fn regression_target_is_half_the_reversed_input() {
        let data = RegressionData { shape: vec![2, 3], seed: 1 };
        let (x, y) = data.microbatch(0, 0).unwrap();
        let (x, y) = (&x["x"].data, &y["x"].data);
        assert_eq!(y[0], 0.5 * x[2]);
        assert_eq!(y[5], 0.5 * x[3]);
        assert_ne!(data.microbatch(0, 1).unwrap().0["x"].data, *x);
    }
}
