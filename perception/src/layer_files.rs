//! Weight folders of the networks written as cairn-train layers (the DIP
//! descriptor network, CMT): one safetensors file with every weight named
//! `"{layer}.{param}"` and a JSON config beside it. Reading checks the
//! weights against the names the config implies — a corrupt file, a
//! missing or extra weight is an error that names the network and the
//! weight; writing creates the folder.

use std::collections::HashMap;
use std::path::Path;

use cairn_train::HostTensor;
use cairn_train::model::Layer;
use candle_core::{DType, Device};

use crate::{Error, Result};

/// Per layer, the safetensors names of its weights (`"{layer}.{param}"`).
pub fn weight_names(layers: &[Box<dyn Layer>]) -> Vec<Vec<String>> {
    let names = |(l, layer): (usize, &dyn Layer)| layer.params().iter().map(|p| format!("{l}.{}", p.name)).collect();
    layers.iter().map(|layer| layer.as_ref()).enumerate().map(names).collect()
}

/// The weights `names` (per layer) out of safetensors bytes, as f32 host
/// tensors; `network` (`"dip"`, `"cmt"`) prefixes every error.
pub fn read_weights(network: &str, safetensors: &[u8], names: Vec<Vec<String>>) -> Result<Vec<Vec<HostTensor>>> {
    let mut named = candle_core::safetensors::load_buffer(safetensors, &Device::Cpu)
        .map_err(|e| Error::Input(format!("{network}: the weights are not a valid safetensors file: {e}")))?;
    let mut take = |name: String| -> Result<HostTensor> {
        let tensor =
            named.remove(&name).ok_or_else(|| Error::Input(format!("{network}: the weights lack {name:?}")))?;
        Ok(HostTensor::from_tensor(&tensor.to_dtype(DType::F32)?)?)
    };
    let weights = names
        .into_iter()
        .map(|layer| layer.into_iter().map(&mut take).collect::<Result<Vec<_>>>())
        .collect::<Result<Vec<_>>>()?;
    let mut extra: Vec<&String> = named.keys().collect();
    extra.sort();
    match extra.first() {
        Some(extra) => {
            Err(Error::Input(format!("{network}: the weights hold {extra:?}, which the config has no place for")))
        }
        None => Ok(weights),
    }
}

/// Writes `dir/config_file` (`config_json`) and `dir/weights_file` (the
/// weights under `names`), creating `dir`.
pub fn write_folder(
    dir: &Path,
    (config_file, config_json): (&str, String),
    weights_file: &str,
    names: Vec<Vec<String>>,
    weights: &[Vec<HostTensor>],
) -> Result<()> {
    let io = |e: std::io::Error| Error::Input(format!("{}: {e}", dir.display()));
    std::fs::create_dir_all(dir).map_err(io)?;
    let mut named = HashMap::new();
    for (names, layer) in names.into_iter().zip(weights) {
        for (name, w) in names.into_iter().zip(layer) {
            named.insert(name, w.to_tensor()?);
        }
    }
    candle_core::safetensors::save(&named, dir.join(weights_file))?;
    std::fs::write(dir.join(config_file), config_json + "\n").map_err(io)
}
