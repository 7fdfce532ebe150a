//! CMT's training data: a sample set (the `sample_info.json` layout of
//! cairn-sim's `drive` and of nuScenes) → per microbatch the tensor
//! contract's inputs (mod.rs) and the loss's targets ([`super::loss`]).
//!
//! Per microbatch, deterministically from (run seed, step, microbatch):
//! 1. **samples**: `batch` samples of a fresh shuffle of the training set
//!    per epoch (every sample once per epoch).
//! 2. **inputs**: the cameras through [`super::image::image_inputs`], the
//!    LiDAR sweep through [`super::pillars`] (host; both cached per sample).
//! 3. **masked-modal training** (the official `ModalMask3D`): per sample,
//!    with probability `drop_images` all its images are zeroed (and
//!    `image_valid` 0), else with probability `drop_points` its sweep is
//!    dropped (no pillars) — never both.
//! 4. **ground truth**: the sample's instances of a trained class with at
//!    least one LiDAR point (mmdet3d's default filter) whose centre lies in
//!    the point-cloud range (`ObjectRangeFilter`, x and y).
//! 5. **denoising queries** from that ground truth ([`super::denoise`]).

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use cairn_core::cloud::PointCloud;
use cairn_core::samples::{SampleInfo, SampleSet};
use cairn_train::host::{HostMap, HostTensor, mix_seed, splitmix64};
use cairn_train::model::{DataSource, TensorMap};

use super::boxes::{encode, in_range};
use super::config::{CmtConfig, TrainConfig};
use super::denoise::denoise;
use super::image::{decoded_camera_input, image_inputs, image_inputs_with};
use super::loss::to_train;
use super::matching::{Targets, ground_truth_map};
use super::pillars::{Pillars, pillar_inputs, pillarise};
use crate::detection::LidarBox;
use crate::{Error, Result};

/// Which sensors a sample's inputs keep.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum Modality {
    /// Cameras and LiDAR.
    Fusion,
    /// LiDAR only (images zeroed).
    Lidar,
    /// Cameras only (no pillars).
    Camera,
}

/// The masked-modal draw of one sample: `Camera`-only (points dropped)
/// with probability `drop_points`, `Lidar`-only with `drop_images`, else
/// `Fusion`.
pub fn draw_modality(train: &TrainConfig, seed: u64) -> Modality {
    let u = (splitmix64(seed) >> 11) as f64 / (1u64 << 53) as f64;
    if u < train.drop_images {
        Modality::Lidar
    } else if u < train.drop_images + train.drop_points {
        Modality::Camera
    } else {
        Modality::Fusion
    }
}

/// The ground truth CMT trains on: instances of a trained class with a
/// LiDAR point, centred in the point-cloud range.
pub fn ground_truth(sample: &SampleInfo, config: &CmtConfig) -> Vec<LidarBox> {
    let trained = |b: &LidarBox| b.label < config.classes && in_range(&config.point_cloud_range, b.centre);
    let with_points = sample.instances.iter().filter(|i| i.num_lidar_pts > 0);
    with_points.filter_map(LidarBox::from_instance).filter(trained).collect()
}

/// One sample, pre-processed (host).
struct Loaded {
    /// `images`, `image_valid`, `lidar2img`, `img2lidar` with batch 1.
    images: HostMap,
    pillars: Pillars,
    boxes: Vec<LidarBox>,
}

/// The contract's inputs of samples (cameras, pillars; no denoising) with
/// each sample's modality applied — for inference and evaluation.
pub fn inputs(set: &SampleSet, samples: &[&SampleInfo], config: &CmtConfig, modality: Modality) -> Result<HostMap> {
    let loaded = samples.iter().map(|s| load(set, s, config)).collect::<Result<Vec<_>>>()?;
    let with_modality: Vec<_> = loaded.iter().map(|l| (l, modality)).collect();
    assemble(&with_modality, config)
}

/// One sample's sensor data, already decoded (what a ROS node receives
/// instead of a sample set's files): an RGB image for each camera the
/// sample names, and the LiDAR sweep in the LiDAR frame.
#[derive(Debug, Clone, Default)]
pub struct SensorData {
    /// Camera name → its image.
    pub images: BTreeMap<String, image::RgbImage>,
    /// The sweep (empty when there is none).
    pub cloud: PointCloud,
}

/// [`inputs`] from decoded sensor data: the same tensors as from the files
/// the data was read from. A camera missing from a sample's `images` is
/// masked as [`inputs`] masks it.
pub fn inputs_from_data(
    samples: &[(&SampleInfo, &SensorData)],
    config: &CmtConfig,
    modality: Modality,
) -> Result<HostMap> {
    let loaded = samples.iter().map(|(s, d)| load_data(s, d, config)).collect::<Result<Vec<_>>>()?;
    let with_modality: Vec<_> = loaded.iter().map(|l| (l, modality)).collect();
    assemble(&with_modality, config)
}

fn load(set: &SampleSet, sample: &SampleInfo, config: &CmtConfig) -> Result<Loaded> {
    let images = image_inputs(set, &[sample], config)?;
    let sweep = set.read_lidar(sample)?;
    loaded(&images, &sweep.cloud, sample, config)
}

fn load_data(sample: &SampleInfo, data: &SensorData, config: &CmtConfig) -> Result<Loaded> {
    let images = image_inputs_with(&[sample], config, |_, name, camera| {
        let rgb = data.images.get(name).ok_or_else(|| Error::Input(format!("no image for camera {name}")))?;
        decoded_camera_input(rgb, camera, config)
    })?;
    loaded(&images, &data.cloud, sample, config)
}

fn loaded(images: &TensorMap, cloud: &PointCloud, sample: &SampleInfo, config: &CmtConfig) -> Result<Loaded> {
    let images = images.iter().map(|(k, v)| Ok((k.clone(), HostTensor::from_tensor(v)?))).collect::<Result<_>>()?;
    Ok(Loaded { images, pillars: pillarise(cloud, config), boxes: ground_truth(sample, config) })
}

/// Batches loaded samples (batch-1 image maps concatenated, pillars padded)
/// under their modalities.
fn assemble(samples: &[(&Loaded, Modality)], config: &CmtConfig) -> Result<HostMap> {
    let mut inputs = HostMap::new();
    for name in ["images", "image_valid", "lidar2img", "img2lidar"] {
        let mut parts = Vec::with_capacity(samples.len());
        for (loaded, modality) in samples {
            let part = loaded.images.get(name).ok_or_else(|| Error::Input(format!("image inputs lack {name}")))?;
            let drop = *modality == Modality::Lidar && (name == "images" || name == "image_valid");
            parts.push(if drop { HostTensor::zeros(&part.shape) } else { part.clone() });
        }
        inputs.insert(name.to_string(), concat(&parts)?);
    }
    let empty = Pillars::empty();
    let pillars: Vec<Pillars> = samples
        .iter()
        .map(|(loaded, modality)| if *modality == Modality::Camera { empty.clone() } else { loaded.pillars.clone() })
        .collect();
    inputs.extend(pillar_inputs(&pillars, config.lidar.max_points));
    Ok(inputs)
}

/// Concatenates batch-1 tensors of one shape along the batch axis.
fn concat(parts: &[HostTensor]) -> Result<HostTensor> {
    let first = parts.first().ok_or_else(|| Error::Input("an empty batch".into()))?;
    if parts.iter().any(|p| p.shape != first.shape || first.shape.first() != Some(&1)) {
        return Err(Error::Input("samples of a batch disagree on an input's shape".into()));
    }
    let mut shape = first.shape.clone();
    shape[0] = parts.len();
    Ok(HostTensor { shape, data: parts.iter().flat_map(|p| p.data.iter().copied()).collect() })
}

/// CMT's [`DataSource`] over a sample set.
pub struct CmtData {
    set: SampleSet,
    /// Indices of the training samples in `set.data_list`.
    samples: Vec<usize>,
    config: CmtConfig,
    batch: usize,
    microbatches: usize,
    seed: u64,
    /// Pre-processed samples, by index (all of them stay: a sample set for
    /// the `small` preset is ~10 MB per sample on the host).
    cache: Mutex<BTreeMap<usize, Arc<Loaded>>>,
}

impl CmtData {
    /// Trains on every sample of `set`, `batch` samples per microbatch,
    /// `microbatches` per step (the plan's), seeded by `seed`.
    pub fn new(set: SampleSet, config: CmtConfig, batch: usize, microbatches: usize, seed: u64) -> Result<Self> {
        config.validate()?;
        if set.data_list.is_empty() || batch == 0 || microbatches == 0 {
            return Err(Error::Input("cmt data: needs samples, a batch and microbatches".into()));
        }
        let samples = (0..set.data_list.len()).collect();
        Ok(CmtData { set, samples, config, batch, microbatches, seed, cache: Mutex::new(BTreeMap::new()) })
    }

    /// The sample indices of a microbatch: position `k` of microbatch `m`
    /// of step `step` is draw `(step · microbatches + m) · batch + k`, taken
    /// from the shuffle of its epoch.
    pub fn sample_order(&self, step: u64, microbatch: usize) -> Vec<usize> {
        let n = self.samples.len() as u64;
        let first = (step * self.microbatches as u64 + microbatch as u64) * self.batch as u64;
        (first..first + self.batch as u64)
            .map(|draw| {
                let mut order = self.samples.clone();
                let epoch_seed = mix_seed(&[self.seed, draw / n]);
                for i in (1..order.len()).rev() {
                    let j = (splitmix64(epoch_seed ^ splitmix64(i as u64)) % (i as u64 + 1)) as usize;
                    order.swap(i, j);
                }
                order[(draw % n) as usize]
            })
            .collect()
    }

    fn loaded(&self, index: usize) -> Result<Arc<Loaded>> {
        let lock = || self.cache.lock().map_err(|_| Error::Input("cmt data: the cache lock is poisoned".into()));
        if let Some(hit) = lock()?.get(&index) {
            return Ok(hit.clone());
        }
        let sample = self.set.data_list.get(index).ok_or_else(|| Error::Input(format!("no sample {index}")))?;
        let loaded = Arc::new(load(&self.set, sample, &self.config)?);
        lock()?.insert(index, loaded.clone());
        Ok(loaded)
    }

    /// Inputs and targets of one microbatch (see the module doc).
    pub fn build(&self, step: u64, microbatch: usize) -> Result<(HostMap, HostMap)> {
        let order = self.sample_order(step, microbatch);
        let loaded = order.iter().map(|i| self.loaded(*i)).collect::<Result<Vec<_>>>()?;
        let modalities = (0..order.len()).map(|k| {
            draw_modality(&self.config.train, mix_seed(&[self.seed, step, microbatch as u64, k as u64, 0x3D]))
        });
        let with_modality: Vec<(&Loaded, Modality)> = loaded.iter().map(Arc::as_ref).zip(modalities).collect();
        let mut inputs = assemble(&with_modality, &self.config)?;
        let boxes: Vec<Vec<LidarBox>> = loaded.iter().map(|l| l.boxes.clone()).collect();
        let dn_seed = mix_seed(&[self.seed, step, microbatch as u64, 0xD0]);
        let denoising = denoise(&boxes, &self.config, dn_seed)?;
        if denoising.queries > 0 {
            inputs.insert("denoise_anchors".into(), denoising.anchors);
            inputs.insert("attention_mask".into(), denoising.attention_mask);
        }
        let targets: Vec<Targets> = boxes
            .iter()
            .map(|sample| {
                let codes = sample.iter().map(encode).collect::<Result<_>>()?;
                Ok(Targets { codes, labels: sample.iter().map(|b| b.label).collect() })
            })
            .collect::<Result<_>>()?;
        let mut target_map = ground_truth_map(&targets)?;
        target_map.extend(denoising.targets);
        Ok((inputs, target_map))
    }
}

impl DataSource for CmtData {
    fn microbatch(&self, step: u64, microbatch: usize) -> cairn_train::Result<(HostMap, HostMap)> {
        self.build(step, microbatch).map_err(to_train)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use std::path::PathBuf;

    use cairn_sim::drive::{DriveOptions, write_drive};
    use cairn_sim::rig::Rig;

    use super::*;

    /// A 3-sample `drive` set at 0.2 image scale, written once per test.
    fn drive_set(name: &str) -> (SampleSet, PathBuf) {
        let dir = std::env::temp_dir().join(format!("cairn-cmt-batch-{name}-{}", std::process::id()));
        std::fs::remove_dir_all(&dir).ok();
        let options = DriveOptions { samples: 3, seed: 5, image_scale: 0.2, ..Default::default() };
        let set = write_drive(&options, &Rig::nuscenes().unwrap(), &dir, |_| {}).unwrap();
        (set, dir)
    }

    #[test]
    fn modalities_are_drawn_exclusively_with_the_configured_probabilities() {
        let train = TrainConfig::paper();
        let draws: Vec<Modality> = (0..4000).map(|i| draw_modality(&train, mix_seed(&[i]))).collect();
        let share = |m: Modality| draws.iter().filter(|d| **d == m).count() as f64 / 4000.0;
        assert!((share(Modality::Lidar) - 0.25).abs() < 0.03 && (share(Modality::Camera) - 0.25).abs() < 0.03);
        let off = TrainConfig { drop_images: 0.0, drop_points: 0.0, ..train };
        assert!((0..100).all(|i| draw_modality(&off, i) == Modality::Fusion));
    }

    #[test]
    fn a_microbatch_follows_the_contract_and_is_deterministic() {
        let (set, dir) = drive_set("contract");
        let config = CmtConfig::small();
        let data = CmtData::new(set.clone(), config.clone(), 2, 2, 9).unwrap();
        let (inputs, targets) = data.build(0, 1).unwrap();
        assert_eq!(inputs["images"].shape, vec![2, 6, 3, 128, 320]);
        assert_eq!(inputs["lidar2img"].shape, vec![2, 6, 4, 4]);
        let p = inputs["pillar_valid"].shape[1];
        assert_eq!(inputs["pillar_points"].shape, vec![2, p, 16, 9]);
        let order = data.sample_order(0, 1);
        let boxes: Vec<usize> = order.iter().map(|i| ground_truth(&set.data_list[*i], &config).len()).collect();
        let most = *boxes.iter().max().unwrap();
        assert!(most > 0, "a drive sample has boxes");
        assert_eq!(targets["gt_codes"].shape, vec![2, most, 10]);
        assert_eq!(targets["gt_valid"].data.iter().sum::<f32>() as usize, boxes.iter().sum::<usize>());
        let dn = inputs["denoise_anchors"].shape[1];
        assert_eq!(dn, most * config.train.denoise_groups.min(config.decoder.queries / most));
        assert_eq!(inputs["attention_mask"].shape, vec![dn + 200, dn + 200]);
        assert_eq!(targets["dn_codes"].shape, vec![2, dn, 10]);
        assert_eq!(data.build(0, 1).unwrap(), (inputs, targets), "the same microbatch twice");
        std::fs::remove_dir_all(&dir).ok();
    }

    #[test]
    fn every_sample_is_drawn_once_per_epoch() {
        let (set, dir) = drive_set("epoch");
        let data = CmtData::new(set, CmtConfig::small(), 1, 1, 4).unwrap();
        let mut epoch: Vec<usize> = (0..3).flat_map(|step| data.sample_order(step, 0)).collect();
        epoch.sort_unstable();
        assert_eq!(epoch, vec![0, 1, 2]);
        std::fs::remove_dir_all(&dir).ok();
    }

    #[test]
    fn decoded_sensor_data_gives_the_inputs_of_the_files() {
        let (set, dir) = drive_set("decoded");
        let config = CmtConfig::small();
        let sample = &set.data_list[1];
        let mut data = SensorData { cloud: set.read_lidar(sample).unwrap().cloud, ..Default::default() };
        for (name, camera) in &sample.images {
            data.images.insert(name.clone(), image::open(set.file(&camera.img_path)).unwrap().to_rgb8());
        }
        for modality in [Modality::Fusion, Modality::Camera] {
            let from_data = inputs_from_data(&[(sample, &data)], &config, modality).unwrap();
            assert_eq!(from_data, inputs(&set, &[sample], &config, modality).unwrap(), "{modality:?}");
        }
        // A camera the sample lacks is masked; one without an image is an error.
        let mut fewer = sample.clone();
        fewer.images.remove("CAM_BACK");
        let masked = inputs_from_data(&[(&fewer, &data)], &config, Modality::Fusion).unwrap();
        assert_eq!(masked["image_valid"].data.iter().filter(|v| **v == 0.0).count(), 1);
        data.images.remove("CAM_FRONT");
        assert!(inputs_from_data(&[(sample, &data)], &config, Modality::Fusion).is_err());
        std::fs::remove_dir_all(&dir).ok();
    }

    #[test]
    fn dropped_modalities_are_zero() {
        let (set, dir) = drive_set("modality");
        let config = CmtConfig::small();
        let samples: Vec<&SampleInfo> = set.data_list.iter().take(2).collect();
        let fusion = inputs(&set, &samples, &config, Modality::Fusion).unwrap();
        assert!(fusion["image_valid"].data.iter().all(|v| *v == 1.0));
        assert!(fusion["pillar_valid"].data.contains(&1.0));
        let lidar = inputs(&set, &samples, &config, Modality::Lidar).unwrap();
        assert!(lidar["images"].data.iter().chain(&lidar["image_valid"].data).all(|v| *v == 0.0));
        assert_eq!(lidar["pillar_points"], fusion["pillar_points"]);
        assert_eq!(lidar["lidar2img"], fusion["lidar2img"], "the geometry stays");
        let camera = inputs(&set, &samples, &config, Modality::Camera).unwrap();
        assert!(camera["pillar_valid"].data.iter().chain(&camera["pillar_mask"].data).all(|v| *v == 0.0));
        assert_eq!(camera["images"], fusion["images"]);
        std::fs::remove_dir_all(&dir).ok();
    }
}
