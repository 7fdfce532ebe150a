//! `--device cpu|cuda`: the device a benchmark trains on, and a clear error
//! when this build or machine has no CUDA.

#[cfg(feature = "cuda")]
use anyhow::Context;
use anyhow::Result;
use cairn_train::{CpuDevice, SwapDevice};
use clap::ValueEnum;

/// Where the model trains.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum DeviceArg {
    /// The CPU with the `--device-mem` capacity enforced.
    Cpu,
    /// CUDA GPU 0 with the `--device-mem` capacity enforced (needs a build with `--features cuda`).
    Cuda,
}

/// The device of `--device`: a clear error when this build or machine has no CUDA.
pub fn open_device(device: DeviceArg, capacity: u64) -> Result<Box<dyn SwapDevice>> {
    match device {
        DeviceArg::Cpu => Ok(Box::new(CpuDevice::new(capacity))),
        #[cfg(feature = "cuda")]
        DeviceArg::Cuda => Ok(Box::new(
            cairn_train::cuda::CudaDevice::new(0, capacity)
                .context("--device cuda: no CUDA driver or GPU found (check nvidia-smi and LD_LIBRARY_PATH)")?,
        )),
        #[cfg(not(feature = "cuda"))]
        DeviceArg::Cuda => anyhow::bail!(
            "--device cuda: this cairn was built without the CUDA device; rebuild with \
             `cargo build --release -p cairn-nodes --features cuda` (nvcc from scripts/cuda-setup.sh)"
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cuda_device_without_a_gpu_is_a_clear_error() {
        let err = open_device(DeviceArg::Cuda, 1 << 20).err().map(|e| format!("{e:#}"));
        if cfg!(feature = "cuda") {
            // With the feature, only a machine without a GPU errs, and says so.
            if let Some(err) = err {
                assert!(err.contains("no CUDA driver or GPU found"), "{err}");
            }
        } else {
            assert!(err.unwrap().contains("--features cuda"));
        }
        assert!(open_device(DeviceArg::Cpu, 1 << 20).is_ok());
    }
}
