//! The DIP network's files: `dip.safetensors` (weights named
//! `"{layer}.{param}"`) and `dip.json` (its [`DipConfig`]), read from a
//! folder, from bytes, or built in (models/l3d); written by
//! `cairn train l3d`. Anything that does not fit the config — a corrupt
//! file, a missing, extra or misshapen weight, a non-finite value — is an
//! error that says so.

use std::path::Path;

use cairn_train::HostTensor;

use super::network::{DipConfig, DipNetwork};
use crate::{Error, Result, layer_files};

impl DipNetwork {
    /// A network from a JSON config and safetensors weights (bytes).
    pub fn from_bytes(config_json: &[u8], safetensors: &[u8]) -> Result<Self> {
        let config: DipConfig = serde_json::from_slice(config_json)
            .map_err(|e| Error::Input(format!("dip: the network config is not valid: {e}")))?;
        config.validate()?;
        let weights = layer_files::read_weights("dip", safetensors, weight_names(&config))?;
        Self::new(config, &weights)
    }

    /// The committed weights (models/l3d, reproducible with the command in
    /// models/l3d/README.md), built into the binary.
    pub fn builtin() -> Result<Self> {
        Self::from_bytes(
            include_bytes!("../../../models/l3d/dip.json"),
            include_bytes!("../../../models/l3d/dip.safetensors"),
        )
    }

    /// Reads `DIR/dip.json` and `DIR/dip.safetensors`.
    pub fn load(dir: &Path) -> Result<Self> {
        let read = |name: &str| {
            let path = dir.join(name);
            std::fs::read(&path).map_err(|e| Error::Input(format!("{}: {e}", path.display())))
        };
        Self::from_bytes(&read(CONFIG_FILE)?, &read(WEIGHTS_FILE)?)
    }
}

/// The config file's name in a weights folder.
pub const CONFIG_FILE: &str = "dip.json";
/// The weights file's name in a weights folder.
pub const WEIGHTS_FILE: &str = "dip.safetensors";

/// Per layer, the safetensors names of its weights (`"{layer}.{param}"`).
pub fn weight_names(config: &DipConfig) -> Vec<Vec<String>> {
    layer_files::weight_names(&config.layers())
}

/// Writes `DIR/dip.json` and `DIR/dip.safetensors` (creating DIR).
pub fn save(dir: &Path, config: &DipConfig, weights: &[Vec<HostTensor>]) -> Result<()> {
    let json = serde_json::to_string_pretty(config).map_err(|e| Error::Input(e.to_string()))?;
    layer_files::write_folder(dir, (CONFIG_FILE, json), WEIGHTS_FILE, weight_names(config), weights)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use candle_core::{Device, Tensor};

    fn init(config: &DipConfig, seed: u64) -> Vec<Vec<HostTensor>> {
        let specs = config.layers().iter().map(|layer| layer.params()).collect::<Vec<_>>();
        let normal = |shape: &[usize], i: u64| HostTensor::normal(shape, 0.1, seed ^ i);
        specs.iter().enumerate().map(|(l, p)| p.iter().map(|s| normal(&s.shape, l as u64)).collect()).collect()
    }

    #[test]
    fn weights_round_trip_through_safetensors_and_json() {
        let config = DipConfig::default();
        let weights = init(&config, 3);
        let dir = std::env::temp_dir().join(format!("cairn-dip-{}", std::process::id()));
        save(&dir, &config, &weights).unwrap();
        let loaded = DipNetwork::load(&dir).unwrap();
        let x = Tensor::randn(0f32, 0.5, (2, 256, 3), &Device::Cpu).unwrap();
        let original = DipNetwork::new(config, &weights).unwrap().forward(x.clone()).unwrap();
        let again = loaded.forward(x).unwrap();
        assert_eq!(original.to_vec2::<f32>().unwrap(), again.to_vec2::<f32>().unwrap());
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn corrupt_or_mismatched_weights_are_clear_errors() {
        let config = DipConfig::default();
        let json = serde_json::to_vec(&config).unwrap();
        let err = DipNetwork::from_bytes(&json, b"not safetensors").unwrap_err().to_string();
        assert!(err.contains("not a valid safetensors"), "{err}");
        let dir = std::env::temp_dir().join(format!("cairn-dip-bad-{}", std::process::id()));
        save(&dir, &config, &init(&config, 4)).unwrap();
        let bytes = std::fs::read(dir.join(WEIGHTS_FILE)).unwrap();
        let wider = DipConfig { point_widths: vec![32, 128], ..config };
        let err = DipNetwork::from_bytes(&serde_json::to_vec(&wider).unwrap(), &bytes).unwrap_err().to_string();
        assert!(err.contains("shape"), "{err}");
        let err = DipNetwork::from_bytes(b"{\"points\": 0}", &bytes).unwrap_err().to_string();
        assert!(err.contains("config"), "{err}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
