//! Checkpoints: one safetensors file holding the fp32 master weights
//! (`weight.{layer}.{param}`), the optimizer moments (`first.…`, `second.…`)
//! and metadata — format, model name, optimizer, the caller's resolved config
//! (JSON) and the step. The step is the whole RNG state: every random number
//! (data, dropout) derives from seeds of (step, microbatch, layer), so a
//! resumed run continues bit-for-bit. The file is written next to its
//! destination and renamed into place, so a `kill -9` mid-write leaves the
//! previous checkpoint intact.

use std::collections::HashMap;
use std::path::Path;

use safetensors::tensor::{Dtype, SafeTensors, TensorView};

use crate::host::HostTensor;
use crate::runner::lock;
use crate::trainer::Trainer;
use crate::{Error, Result};

const FORMAT: &str = "cairn-train-checkpoint/1";

fn fail(path: &Path, reason: impl Into<String>) -> Error {
    Error::Checkpoint { path: path.display().to_string(), reason: reason.into() }
}

fn bytes(values: &[f32]) -> Vec<u8> {
    values.iter().flat_map(|v| v.to_le_bytes()).collect()
}

impl Trainer {
    /// Writes a checkpoint; `config` is the resolved run configuration (any
    /// JSON text), checked again on load.
    pub fn save_checkpoint(&self, path: &Path, config: &str) -> Result<()> {
        let mut entries: Vec<(String, Vec<usize>, Vec<u8>)> = Vec::new();
        for l in 0..self.states.len() {
            let state = lock(&self.states, l)?;
            for (i, w) in state.weights.iter().enumerate() {
                entries.push((format!("weight.{l}.{i}"), w.shape.clone(), bytes(&w.data)));
                entries.push((format!("first.{l}.{i}"), vec![state.first[i].len()], bytes(&state.first[i])));
                entries.push((format!("second.{l}.{i}"), vec![state.second[i].len()], bytes(&state.second[i])));
            }
        }
        let views = entries
            .iter()
            .map(|(name, shape, data)| {
                Ok((
                    name.clone(),
                    TensorView::new(Dtype::F32, shape.clone(), data).map_err(|e| fail(path, e.to_string()))?,
                ))
            })
            .collect::<Result<Vec<_>>>()?;
        let optimizer = serde_json::to_string(&self.optimizer).map_err(|e| fail(path, e.to_string()))?;
        let metadata = HashMap::from([
            ("format".to_string(), FORMAT.to_string()),
            ("model".to_string(), self.model.name.clone()),
            ("optimizer".to_string(), optimizer),
            ("config".to_string(), config.to_string()),
            ("step".to_string(), self.step.to_string()),
        ]);
        let temporary = path.with_extension("safetensors.partial");
        safetensors::tensor::serialize_to_file(views, Some(metadata), &temporary)
            .map_err(|e| fail(path, e.to_string()))?;
        std::fs::rename(&temporary, path).map_err(|e| fail(path, e.to_string()))
    }

    /// Restores weights, optimizer state and step from a checkpoint written
    /// for the same model, optimizer and `config`.
    pub fn load_checkpoint(&mut self, path: &Path, config: &str) -> Result<()> {
        let buffer = std::fs::read(path).map_err(|e| fail(path, e.to_string()))?;
        let file = SafeTensors::deserialize(&buffer).map_err(|e| fail(path, format!("corrupt: {e}")))?;
        let (_, header) = SafeTensors::read_metadata(&buffer).map_err(|e| fail(path, format!("corrupt: {e}")))?;
        let metadata = header.metadata().clone().unwrap_or_default();
        let field =
            |key: &str| metadata.get(key).cloned().ok_or_else(|| fail(path, format!("no {key:?} in the metadata")));
        let optimizer = serde_json::to_string(&self.optimizer).map_err(|e| fail(path, e.to_string()))?;
        for (key, expected) in
            [("format", FORMAT), ("model", &self.model.name), ("optimizer", &optimizer), ("config", config)]
        {
            let found = field(key)?;
            if found != expected {
                return Err(fail(path, format!("{key} mismatch: the checkpoint has {found:?}, this run {expected:?}")));
            }
        }
        let step = field("step")?.parse::<u64>().map_err(|e| fail(path, format!("bad step: {e}")))?;
        let read = |name: String, len: usize| -> Result<Vec<f32>> {
            let view = file.tensor(&name).map_err(|e| fail(path, format!("{name}: {e}")))?;
            if view.dtype() != Dtype::F32 || view.data().len() != 4 * len {
                return Err(fail(path, format!("{name} has the wrong type or size")));
            }
            Ok(view.data().chunks_exact(4).map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])).collect())
        };
        let mut restored = Vec::with_capacity(self.states.len());
        for l in 0..self.states.len() {
            let mut state = lock(&self.states, l)?.clone();
            for i in 0..state.weights.len() {
                let len = state.weights[i].data.len();
                state.weights[i] =
                    HostTensor { shape: state.weights[i].shape.clone(), data: read(format!("weight.{l}.{i}"), len)? };
                state.first[i] = read(format!("first.{l}.{i}"), len)?;
                state.second[i] = read(format!("second.{l}.{i}"), len)?;
            }
            restored.push(state);
        }
        for (l, state) in restored.into_iter().enumerate() {
            *lock(&self.states, l)? = state; // only once every tensor has been read
        }
        self.step = step;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::models::mlp::{MlpConfig, mlp_model};
    use crate::{CpuDevice, Footprint, OptimizerConfig, Plan, Schedule};

    fn trainer() -> Trainer {
        let config = MlpConfig { layers: 4, hidden: 8, rows: 2, dropout: 0.2, ..Default::default() };
        let model = mlp_model(&config).unwrap();
        let weights = model.init_weights(5);
        let (footprint, _) = Footprint::measure(&model, &weights).unwrap();
        let plan = Plan::build(Schedule::Harmony, &footprint, 2, 16 * 1024).unwrap();
        Trainer::new(model, plan, CpuDevice::new(16 * 1024), OptimizerConfig::default(), weights).unwrap()
    }

    fn dir() -> std::path::PathBuf {
        let dir = std::env::temp_dir().join(format!(
            "cairn-train-ckpt-{}-{:?}",
            std::process::id(),
            std::thread::current().id()
        ));
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[test]
    fn resume_continues_bit_for_bit() {
        let mut straight = trainer();
        (0..12).for_each(|_| {
            straight.step().unwrap();
        });
        let path = dir().join("resume.safetensors");
        let mut first = trainer();
        (0..5).for_each(|_| {
            first.step().unwrap();
        });
        first.save_checkpoint(&path, "{\"run\":1}").unwrap();
        let mut resumed = trainer();
        resumed.load_checkpoint(&path, "{\"run\":1}").unwrap();
        assert_eq!(resumed.steps(), 5);
        (0..7).for_each(|_| {
            resumed.step().unwrap();
        });
        assert_eq!(resumed.weights().unwrap(), straight.weights().unwrap());
    }

    #[test]
    fn corrupt_or_mismatched_checkpoints_are_clear_errors() {
        let path = dir().join("bad.safetensors");
        let mut t = trainer();
        t.save_checkpoint(&path, "a").unwrap();
        let err = t.load_checkpoint(&path, "b").unwrap_err().to_string();
        assert!(err.contains("config mismatch"), "{err}");
        let buffer = std::fs::read(&path).unwrap();
        std::fs::write(&path, &buffer[..buffer.len() / 2]).unwrap();
        let err = t.load_checkpoint(&path, "a").unwrap_err().to_string();
        assert!(err.contains("corrupt"), "{err}");
        assert!(t.load_checkpoint(&path.with_extension("missing"), "a").is_err());
    }
}
