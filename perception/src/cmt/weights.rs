//! CMT's weight files: `cmt.safetensors` (weights named `"{layer}.{param}"`,
//! layer = index in [`super::model::layers`]) and `cmt.json` (the
//! [`CmtConfig`], which fixes every shape), read from a folder or from
//! bytes, written by training. Anything that does not fit the config — a
//! corrupt file, a missing, extra or misshapen weight, a non-finite value,
//! an invalid config — is an error that says so.

use std::path::Path;

use cairn_train::HostTensor;

use super::CmtConfig;
use super::model::{Cmt, layers};
use crate::{Error, Result, layer_files};

/// The config file's name in a weights folder.
pub const CONFIG_FILE: &str = "cmt.json";
/// The weights file's name in a weights folder.
pub const WEIGHTS_FILE: &str = "cmt.safetensors";

/// Per layer, the safetensors names of its weights (`"{layer}.{param}"`).
pub fn weight_names(config: &CmtConfig) -> Vec<Vec<String>> {
    layer_files::weight_names(&layers(config))
}

impl Cmt {
    /// The network from a JSON config and safetensors weights (bytes).
    pub fn from_bytes(config_json: &[u8], safetensors: &[u8]) -> Result<Self> {
        let config: CmtConfig = serde_json::from_slice(config_json)
            .map_err(|e| Error::Input(format!("cmt: the config is not valid: {e}")))?;
        super::model::validate(&config)?;
        let weights = layer_files::read_weights("cmt", safetensors, weight_names(&config))?;
        Self::new(config, &weights)
    }

    /// Reads `DIR/cmt.json` and `DIR/cmt.safetensors`.
    pub fn load(dir: &Path) -> Result<Self> {
        let read = |name: &str| {
            let path = dir.join(name);
            std::fs::read(&path).map_err(|e| Error::Input(format!("{}: {e}", path.display())))
        };
        Self::from_bytes(&read(CONFIG_FILE)?, &read(WEIGHTS_FILE)?)
    }

    /// Writes the network to `DIR/cmt.json` and `DIR/cmt.safetensors`.
    pub fn save(&self, dir: &Path) -> Result<()> {
        save(dir, self.config(), &self.host_weights()?)
    }
}

/// Writes `DIR/cmt.json` and `DIR/cmt.safetensors` (creating DIR) from
/// host weights per layer (as training holds them).
pub fn save(dir: &Path, config: &CmtConfig, weights: &[Vec<HostTensor>]) -> Result<()> {
    let names = weight_names(config);
    if names.len() != weights.len() || names.iter().zip(weights).any(|(n, w)| n.len() != w.len()) {
        return Err(Error::Input(format!("cmt: the weights do not fit the {:?} config's layers", config.name)));
    }
    let json = serde_json::to_string_pretty(config).map_err(|e| Error::Input(e.to_string()))?;
    layer_files::write_folder(dir, (CONFIG_FILE, json), WEIGHTS_FILE, names, weights)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::cmt::model::init_weights;
    use crate::cmt::model::tests::ring_inputs;

    fn temp(name: &str) -> std::path::PathBuf {
        std::env::temp_dir().join(format!("cairn-cmt-{name}-{}", std::process::id()))
    }

    #[test]
    fn weights_round_trip_through_safetensors_and_json() {
        let config = CmtConfig::small();
        let weights = init_weights(&config, 3);
        let dir = temp("round-trip");
        save(&dir, &config, &weights).unwrap();
        let loaded = Cmt::load(&dir).unwrap();
        let original = Cmt::new(config.clone(), &weights).unwrap();
        let inputs = ring_inputs(&config, 1, 0);
        let (a, b) = (original.forward(inputs.clone()).unwrap(), loaded.forward(inputs).unwrap());
        let last = format!("box.{}", config.decoder.layers - 1);
        let flat = |m: &cairn_train::TensorMap| m[&last].flatten_all().unwrap().to_vec1::<f32>().unwrap();
        assert_eq!(flat(&a), flat(&b));
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn corrupt_or_mismatched_weights_are_clear_errors() {
        let config = CmtConfig::small();
        let json = serde_json::to_vec(&config).unwrap();
        let err = Cmt::from_bytes(&json, b"not safetensors").unwrap_err().to_string();
        assert!(err.contains("not a valid safetensors"), "{err}");
        let dir = temp("bad");
        save(&dir, &config, &init_weights(&config, 4)).unwrap();
        let bytes = std::fs::read(dir.join(WEIGHTS_FILE)).unwrap();
        let mut wider = config.clone();
        wider.decoder.ffn = 256;
        let err = Cmt::from_bytes(&serde_json::to_vec(&wider).unwrap(), &bytes).unwrap_err().to_string();
        assert!(err.contains("ffn.w1") && err.contains("shape"), "{err}");
        let mut shallower = config.clone();
        shallower.decoder.layers = 2;
        let err = Cmt::from_bytes(&serde_json::to_vec(&shallower).unwrap(), &bytes).unwrap_err().to_string();
        assert!(err.contains("no place"), "{err}");
        let err = Cmt::from_bytes(b"{\"name\": 1}", &bytes).unwrap_err().to_string();
        assert!(err.contains("config"), "{err}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
