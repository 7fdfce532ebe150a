//! Host optimizers on fp32 master weights: AdamW (decoupled weight decay)
//! and SGD with momentum. Weights, gradients and optimizer state all live in
//! host memory; the device never sees optimizer state.

use serde::{Deserialize, Serialize};

use crate::host::HostTensor;
use crate::{Error, Result};

/// An optimizer and its hyper-parameters.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum OptimizerConfig {
    /// AdamW (Loshchilov & Hutter): Adam with decoupled weight decay.
    AdamW {
        /// Learning rate.
        lr: f32,
        /// First-moment decay.
        beta1: f32,
        /// Second-moment decay.
        beta2: f32,
        /// Denominator epsilon.
        eps: f32,
        /// Decoupled weight decay.
        weight_decay: f32,
    },
    /// SGD with (heavy-ball) momentum and L2 weight decay.
    Sgd {
        /// Learning rate.
        lr: f32,
        /// Momentum.
        momentum: f32,
        /// L2 weight decay added to the gradient.
        weight_decay: f32,
    },
}

impl Default for OptimizerConfig {
    /// AdamW with lr 1e-3, betas (0.9, 0.999), eps 1e-8, weight decay 0.01
    /// (PyTorch's defaults).
    fn default() -> Self {
        Self::AdamW { lr: 1e-3, beta1: 0.9, beta2: 0.999, eps: 1e-8, weight_decay: 0.01 }
    }
}

/// A layer's host-resident training state: master weights and optimizer
/// moments, one entry per parameter.
#[derive(Debug, Clone, PartialEq)]
pub struct LayerState {
    /// fp32 master weights.
    pub weights: Vec<HostTensor>,
    /// First moments (AdamW) or momentum buffers (SGD).
    pub first: Vec<Vec<f32>>,
    /// Second moments (AdamW; empty vectors for SGD).
    pub second: Vec<Vec<f32>>,
}

impl LayerState {
    /// Fresh state (zero moments) for these weights.
    pub fn new(weights: Vec<HostTensor>) -> Self {
        let zeros: Vec<Vec<f32>> = weights.iter().map(|w| vec![0.0; w.data.len()]).collect();
        Self { weights, first: zeros.clone(), second: zeros }
    }
}

impl OptimizerConfig {
    /// The learning rate.
    pub fn lr(&self) -> f32 {
        match *self {
            Self::AdamW { lr, .. } | Self::Sgd { lr, .. } => lr,
        }
    }

    /// Applies update number `step` (0-based) to one layer with its
    /// accumulated gradients.
    pub fn apply(&self, state: &mut LayerState, grads: &[HostTensor], step: u64) -> Result<()> {
        if grads.len() != state.weights.len() {
            return Err(Error::Optimizer(format!("{} gradients for {} weights", grads.len(), state.weights.len())));
        }
        for (i, grad) in grads.iter().enumerate() {
            if grad.data.len() != state.weights[i].data.len() {
                return Err(Error::Optimizer(format!("gradient {i} has the wrong size")));
            }
            let w = &mut state.weights[i].data;
            match *self {
                Self::AdamW { lr, beta1, beta2, eps, weight_decay } => {
                    let t = (step + 1).min(i32::MAX as u64) as i32;
                    let (c1, c2) = (1.0 - beta1.powi(t), 1.0 - beta2.powi(t));
                    let (m, v) = (&mut state.first[i], &mut state.second[i]);
                    for j in 0..w.len() {
                        let g = grad.data[j];
                        m[j] = beta1 * m[j] + (1.0 - beta1) * g;
                        v[j] = beta2 * v[j] + (1.0 - beta2) * g * g;
                        w[j] -= lr * weight_decay * w[j];
                        w[j] -= lr * (m[j] / c1) / ((v[j] / c2).sqrt() + eps);
                    }
                }
                Self::Sgd { lr, momentum, weight_decay } => {
                    let buffer = &mut state.first[i];
                    for j in 0..w.len() {
                        let g = grad.data[j] + weight_decay * w[j];
                        buffer[j] = momentum * buffer[j] + g;
                        w[j] -= lr * buffer[j];
                    }
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn state(values: &[f32]) -> LayerState {
        LayerState::new(vec![HostTensor { shape: vec![values.len()], data: values.to_vec() }])
    }

    #[test]
    fn adamw_first_step_moves_by_lr_times_sign() {
        let adamw = OptimizerConfig::AdamW { lr: 0.1, beta1: 0.9, beta2: 0.999, eps: 1e-8, weight_decay: 0.0 };
        let mut s = state(&[1.0, 1.0]);
        adamw.apply(&mut s, &[HostTensor { shape: vec![2], data: vec![3.0, -0.5] }], 0).unwrap();
        assert!((s.weights[0].data[0] - 0.9).abs() < 1e-6);
        assert!((s.weights[0].data[1] - 1.1).abs() < 1e-6);
    }

    #[test]
    fn sgd_momentum_by_hand() {
        let sgd = OptimizerConfig::Sgd { lr: 0.5, momentum: 0.9, weight_decay: 0.0 };
        let mut s = state(&[1.0]);
        let g = [HostTensor { shape: vec![1], data: vec![1.0] }];
        sgd.apply(&mut s, &g, 0).unwrap(); // buf 1, w 0.5
        sgd.apply(&mut s, &g, 1).unwrap(); // buf 1.9, w −0.45
        assert!((s.weights[0].data[0] + 0.45).abs() < 1e-6);
    }

    #[test]
    fn mismatched_gradients_are_an_error() {
        let mut s = state(&[1.0]);
        assert!(OptimizerConfig::default().apply(&mut s, &[], 0).is_err());
    }
}
