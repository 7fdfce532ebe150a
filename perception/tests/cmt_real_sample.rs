//! CMT's image position encoding on real calibrations: the points an image
//! token's pixel is lifted to (before the PE MLP) lie on the camera ray
//! through that pixel, at the bin's depth along the optical axis, for every
//! camera — computed from the sample's own `cam2img` and `lidar2cam`, not
//! from the network's `img2lidar`, so the resize, the crop and the inverse
//! are all checked. On the nuScenes sample in ../shared/data (both
//! presets), and always on a `cairn sim drive` sample, which then also runs
//! through the small network (random weights, pillars from its sweep).
//!
//! Without the shared data folder its trial is reported as ignored
//! (skipped), never as passed.

#![allow(clippy::unwrap_used)]

use std::path::{Path, PathBuf};

use cairn_core::samples::{SampleInfo, SampleSet};
use cairn_perception::cmt::image::{ResizeCrop, camera_names, image_inputs};
use cairn_perception::cmt::lifting::{depths, image_token_points, token_pixels};
use cairn_perception::cmt::model::init_weights;
use cairn_perception::cmt::pillars::{pillar_inputs, pillarise};
use cairn_perception::cmt::{Cmt, CmtConfig};
use cairn_sim::drive::{DriveOptions, write_drive};
use cairn_sim::rig::Rig;
use libtest_mimic::{Arguments, Failed, Trial};
use nalgebra::{Matrix3, Matrix4, Vector3};

fn sample_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/data/nuscenes_sample")
}

/// Checks every camera's lifted token points against its ray; returns the
/// largest distance from the ray relative to the depth.
fn check_rays(set: &SampleSet, sample: &SampleInfo, config: &CmtConfig) -> Result<f64, Failed> {
    let inputs = image_inputs(set, &[sample], config)?;
    let points = image_token_points(config, &inputs["img2lidar"])?; // [1, N, T, bins, 3]
    let points: Vec<f64> = points.flatten_all()?.to_vec1::<f32>()?.iter().map(|v| *v as f64).collect();
    let (pixels, depths) = (token_pixels(config), depths(config));
    let r = config.point_cloud_range;
    let mut worst = 0.0f64;
    for (n, name) in camera_names(config)?.iter().enumerate() {
        let camera = &sample.images[*name];
        let image = image::image_dimensions(set.file(&camera.img_path))?;
        let resize = ResizeCrop::new(config, image.0 as usize, image.1 as usize)?;
        let camera_from_lidar = Matrix4::from_fn(|i, j| camera.lidar2cam[i][j]);
        let rotation = camera_from_lidar.fixed_view::<3, 3>(0, 0).into_owned();
        let centre = -(rotation.transpose() * camera_from_lidar.fixed_view::<3, 1>(0, 3)); // camera centre, LiDAR frame
        let k_inverse = Matrix3::from_fn(|i, j| camera.cam2img[i][j]).try_inverse().ok_or("singular cam2img")?;
        let axis = rotation.row(2).transpose(); // optical axis, LiDAR frame
        for (t, [u, v]) in pixels.iter().enumerate() {
            let original = Vector3::new(u / resize.scale, (v + resize.crop_top as f64) / resize.scale, 1.0);
            let ray = (rotation.transpose() * (k_inverse * original)).normalize();
            for (k, d) in depths.iter().enumerate() {
                let at = ((n * pixels.len() + t) * depths.len() + k) * 3;
                let p = Vector3::from_fn(|i, _| points[at + i] * (r[i + 3] - r[i]) + r[i]);
                let off_ray = (p - centre).cross(&ray).norm();
                let along_axis = (p - centre).dot(&axis);
                if off_ray >= 1e-4 * d || (along_axis - d).abs() >= 1e-4 * d {
                    return Err(
                        format!("{name} token {t} bin {k}: {off_ray} m off the ray, {along_axis} m deep").into()
                    );
                }
                worst = worst.max(off_ray / d);
            }
        }
    }
    Ok(worst)
}

fn nuscenes_rays() -> Result<(), Failed> {
    let set = SampleSet::read(&sample_dir())?;
    for config in [CmtConfig::small(), CmtConfig::full()] {
        let worst = check_rays(&set, &set.data_list[0], &config)?;
        eprintln!("nuScenes sample, {}: largest distance from the ray {worst:.2e} × depth", config.name);
    }
    Ok(())
}

fn sim_drive_rays_and_forward() -> Result<(), Failed> {
    let dir = std::env::temp_dir().join(format!("cairn-cmt-drive-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let options = DriveOptions { samples: 1, seed: 3, image_scale: 0.2, ..Default::default() };
    let set = write_drive(&options, &Rig::nuscenes()?, &dir, |_| {})?;
    let config = CmtConfig::small();
    let sample = &set.data_list[0];
    let worst = check_rays(&set, sample, &config)?;
    eprintln!("sim drive sample, small: largest distance from the ray {worst:.2e} × depth");
    // The whole small network on it: pre-processing, pillars, forward.
    let mut inputs = image_inputs(&set, &[sample], &config)?;
    let pillars = pillarise(&set.read_lidar(sample)?.cloud, &config);
    for (name, host) in pillar_inputs(&[pillars], config.lidar.max_points) {
        inputs.insert(name, host.to_tensor()?);
    }
    let net = Cmt::new(config.clone(), &init_weights(&config, 1))?;
    let out = net.forward(inputs.clone())?;
    let boxes = out[&format!("box.{}", config.decoder.layers - 1)].flatten_all()?.to_vec1::<f32>()?;
    if boxes.len() != config.decoder.queries * 10 || boxes.iter().any(|v| !v.is_finite()) {
        return Err(format!("{} box values, not all finite", boxes.len()).into());
    }
    // A sample without CAM_BACK (index 3): zero image, invalid, zero matrices.
    let mut partial = sample.clone();
    partial.images.remove("CAM_BACK");
    let without = image_inputs(&set, &[&partial], &config)?;
    let valid = without["image_valid"].flatten_all()?.to_vec1::<f32>()?;
    let back = |name: &str| -> f32 {
        without[name].narrow(1, 3, 1).unwrap().abs().unwrap().sum_all().unwrap().to_scalar::<f32>().unwrap()
    };
    let zeros = back("images") + back("lidar2img") + back("img2lidar");
    if valid != [1.0, 1.0, 1.0, 0.0, 1.0, 1.0] || zeros != 0.0 {
        return Err(format!("a missing CAM_BACK gives valid {valid:?} and non-zero inputs").into());
    }
    let front = |map: &cairn_train::TensorMap| map["images"].narrow(1, 0, 1).unwrap().flatten_all().unwrap();
    if front(&without).to_vec1::<f32>()? != front(&inputs).to_vec1::<f32>()? {
        return Err("the other cameras' images change when one is missing".into());
    }
    std::fs::remove_dir_all(&dir)?;
    Ok(())
}

fn main() {
    let args = Arguments::from_args();
    let missing = !sample_dir().join("sample_info.json").exists();
    if missing {
        eprintln!("skipping: {} is absent", sample_dir().display());
    }
    let trials = vec![
        Trial::test("cmt_real_sample/nuscenes_token_points_lie_on_their_camera_rays", nuscenes_rays)
            .with_ignored_flag(missing),
        Trial::test(
            "cmt_real_sample/sim_drive_token_points_lie_on_their_rays_and_the_network_runs",
            sim_drive_rays_and_forward,
        ),
    ];
    libtest_mimic::run(&args, trials).exit();
}
