//! The built-in rig (`calib/nuscenes_rig.json`) carries exactly the
//! calibration of the real nuScenes sample in ../shared/data/nuscenes_sample
//! (cam2img, cam2ego, lidar2cam per camera; lidar2ego), and that sample is
//! a valid one-sample set.
//!
//! Without the shared data folder the trial is reported as ignored
//! (skipped), never as passed.

#![allow(clippy::unwrap_used)] // tests may unwrap (STYLE.md: no unwrap outside tests)

use std::path::{Path, PathBuf};

use cairn_core::samples::SampleSet;
use cairn_sim::rig::Rig;
use libtest_mimic::{Arguments, Failed, Trial};

fn sample_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/data/nuscenes_sample")
}

fn check(dir: &Path) -> Result<(), Failed> {
    let set = SampleSet::read(dir)?;
    if set.data_list.len() != 1 {
        return Err(format!("{} samples in the real set", set.data_list.len()).into());
    }
    let sample = &set.data_list[0];
    let rig = Rig::nuscenes()?;
    if rig.lidar2ego != sample.lidar_points.lidar2ego {
        return Err("lidar2ego differs".into());
    }
    if rig.cameras.len() != sample.images.len() {
        return Err(format!("{} cameras in the rig, {} in the sample", rig.cameras.len(), sample.images.len()).into());
    }
    for camera in &rig.cameras {
        let real = sample.images.get(&camera.name).ok_or(format!("{} missing in the sample", camera.name))?;
        let image = cairn_core::RgbImage::load(set.file(&real.img_path))?;
        if (image.width, image.height) != (camera.width, camera.height) {
            return Err(format!("{}: image is {}×{}", camera.name, image.width, image.height).into());
        }
        if (camera.cam2img, camera.cam2ego, camera.lidar2cam) != (real.cam2img, real.cam2ego, real.lidar2cam) {
            return Err(format!("{}: calibration differs", camera.name).into());
        }
    }
    Ok(())
}

fn main() {
    let args = Arguments::from_args();
    let dir = sample_dir();
    let present = dir.join("sample_info.json").is_file();
    if !present {
        eprintln!("skipping: {} is absent (the shared nuScenes sample)", dir.display());
    }
    let trial = Trial::test("rig_equals_real_sample_calibration", move || check(&dir)).with_ignored_flag(!present);
    libtest_mimic::run(&args, vec![trial]).exit();
}
