//! Swapping trainer in the spirit of Harmony: layer packs, schedules, a capacity-enforced swap executor, host optimizers — trains models larger than device memory.
//!
//! # Brief overview
//! A [`Model`] is an ordered list of [`Layer`]s (candle), each a pure
//! function of (weights, named input tensors, a seed from
//! step/microbatch/layer) returning named outputs and an optional auxiliary
//! loss; the engine knows nothing of what they compute. [`models`] provides
//! two benchmark stacks: GPT-style transformer blocks and a residual MLP.
//!
//! Master weights and optimizer state ([`OptimizerConfig`]: AdamW, SGD with
//! momentum) stay in host memory as plain fp32 vectors. A [`Plan`] groups the
//! layers into packs and orders forward / backward / update tasks over them
//! ([`Schedule`]: `resident`, `naive`, `harmony`); the [`Trainer`] runs it on a
//! device such as the [`CpuDevice`], which enforces a byte capacity (exceeding it is an
//! out-of-memory error) and counts host↔device bytes per category, the peak
//! bytes and the busy time per stream. The executor ([`runner`]) is
//! sequential with simulated stream accounting; the optimizer of `harmony`
//! runs in a real background thread.
//!
//! Every schedule accumulates gradients over the same microbatches in the
//! same order, so on the CPU device they train to bit-identical parameters.
//!
//! ```
//! use cairn_train::models::mlp::{MlpConfig, mlp_model};
//! use cairn_train::{CpuDevice, Footprint, OptimizerConfig, Plan, Schedule, Trainer};
//! let model = mlp_model(&MlpConfig { layers: 8, hidden: 32, ..Default::default() })?;
//! let weights = model.init_weights(0);
//! let (footprint, _) = Footprint::measure(&model, &weights)?;
//! let capacity = 128 * 1024; // 135 KiB of weights: smaller than the model
//! let plan = Plan::build(Schedule::Harmony, &footprint, 4, capacity)?;
//! let mut trainer = Trainer::new(model, plan, CpuDevice::new(capacity), OptimizerConfig::default(), weights)?;
//! let report = trainer.step()?;
//! assert!(report.device.peak_bytes <= capacity);
//! # Ok::<(), cairn_train::Error>(())
//! ```
//!
//! # CLI (wired in cairn-nodes)
//!
//! ```text
//! cairn train bench --model gpt|mlp --layers L --hidden H [--device-mem 32MiB]
//!                   [--microbatches 4] --schedule resident|naive|harmony [--steps 3]
//!                   [--rows 8] [--seq 32] [--heads 4] [--ffn-mult 1] [--json]
//!                   [--plan greedy|auto] [--predict] [--loss-log FILE.csv]
//!                   [--device cpu|cuda]
//! ```
//! prints the plan, loss, step time, bytes moved per iteration by direction
//! and category (JSON: `h2d_bytes` / `d2h_bytes`, each with `total`,
//! `weights`, `activations`, `gradients`), peak device bytes and stream busy
//! times.
//!
//! The scheduler: [`costs::Profile`] measures one configuration (per-layer
//! forward/backward seconds, swap and optimizer costs); [`simulate`] replays
//! a plan on the streams of [`sim`] (an event-driven timeline and a byte
//! ledger) and predicts step time, busy time per stream, peak device bytes
//! and swap bytes — the bytes equal the device's accounting exactly;
//! [`search`] picks harmony's pack boundaries and microbatch size under the
//! capacity by the least predicted step time. [`losslog`] writes a job's
//! loss CSV and PNG curve.
//!
//! Devices are behind the [`SwapDevice`] trait: [`CpuDevice`] here, and with
//! the `cuda` feature `cuda::CudaDevice` (candle's CUDA backend, pinned
//! staging buffers, separate swap-in and swap-out streams ordered by CUDA
//! events; see scripts/cuda-setup.sh for the build). On CUDA the executor's
//! copies overlap its kernels for real; results match the CPU device to
//! float rounding (train/tests/cuda_parity.rs), not bit for bit.
//!
//! [`checkpoint`] saves and restores a trainer (weights, optimizer state,
//! resolved config, step) as one safetensors file.

pub mod checkpoint;
pub mod costs;
#[cfg(feature = "cuda")]
pub mod cuda;
pub mod device;
pub mod error;
pub mod exec;
pub mod host;
pub mod losslog;
pub mod model;
pub mod models;
pub mod optim;
pub mod plan;
pub mod profile;
pub mod runner;
pub mod search;
pub mod sim;
pub mod simulate;
pub mod trainer;

pub use device::{Category, CpuDevice, DeviceStats, SwapDevice, Traffic};
pub use error::{Error, Result};
pub use host::HostTensor;
pub use model::{Layer, LayerCtx, LayerOutput, Model, Objective, TensorMap};
pub use optim::OptimizerConfig;
pub use plan::{Plan, Schedule};
pub use profile::Footprint;
pub use trainer::{StepReport, Trainer};
