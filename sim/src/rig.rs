//! The surround sensor rig: six cameras and a roof LiDAR with nuScenes'
//! calibration (`calib/nuscenes_rig.json`, built in), so synthetic samples
//! are laid out like real ones.
//!
//! The JSON keeps mmdet3d's names: `lidar2ego` (`ego_from_lidar`), and per
//! camera `cam2img` (K), `cam2ego` (`ego_from_camera`) and `lidar2cam`
//! (`camera_from_lidar`), all row-major. Cameras are rectified pinholes.
//! The numbers come from one nuScenes sample (CC BY-NC-SA 4.0, see the
//! file's `licence`).

use std::path::Path;

use cairn_core::samples::{CameraSample, LidarSample};
use cairn_core::transform::Rigid3;
use serde::{Deserialize, Serialize};

use crate::{Error, Result};

/// The built-in nuScenes rig (`calib/nuscenes_rig.json`).
const NUSCENES_RIG: &str = include_str!("../../calib/nuscenes_rig.json");

/// One camera of the rig.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RigCamera {
    /// Channel name (`CAM_FRONT`, …).
    pub name: String,
    /// Image width in pixels.
    pub width: u32,
    /// Image height in pixels.
    pub height: u32,
    /// Intrinsic matrix K, row-major.
    pub cam2img: [[f64; 3]; 3],
    /// `ego_from_camera`, row-major 4×4.
    pub cam2ego: [[f64; 4]; 4],
    /// `camera_from_lidar`, row-major 4×4.
    pub lidar2cam: [[f64; 4]; 4],
}

/// A LiDAR and its cameras.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Rig {
    /// Where the numbers come from, and their licence.
    #[serde(default)]
    pub licence: String,
    /// `ego_from_lidar`, row-major 4×4.
    pub lidar2ego: [[f64; 4]; 4],
    /// The cameras, front first, clockwise.
    pub cameras: Vec<RigCamera>,
}

impl Rig {
    /// The nuScenes rig (six 1600×900 cameras, LIDAR_TOP), built in.
    pub fn nuscenes() -> Result<Rig> {
        Rig::parse(NUSCENES_RIG, Path::new("calib/nuscenes_rig.json"))
    }

    /// A rig from a JSON file of the same layout.
    pub fn from_json_file(path: &Path) -> Result<Rig> {
        let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
        Rig::parse(&text, path)
    }

    fn parse(text: &str, path: &Path) -> Result<Rig> {
        let rig: Rig = serde_json::from_str(text)
            .map_err(|e| Error::Dataset { path: path.to_path_buf(), message: format!("not a rig file: {e}") })?;
        rig.ego_from_lidar()?;
        for camera in &rig.cameras {
            camera.sample("", 0.0).camera_from_lidar()?;
            camera.sample("", 0.0).ego_from_camera()?;
        }
        Ok(rig)
    }

    /// `ego_from_lidar`.
    pub fn ego_from_lidar(&self) -> Result<Rigid3> {
        Ok(self.lidar_sample("").ego_from_lidar()?)
    }

    /// The sample-set record of the LiDAR (5 features per point).
    pub fn lidar_sample(&self, lidar_path: &str) -> LidarSample {
        LidarSample { num_pts_feats: 5, lidar_path: lidar_path.to_owned(), lidar2ego: self.lidar2ego }
    }

    /// The rig with every camera's image scaled by `scale` (intrinsics and
    /// size; 0.25 gives 400×225 nuScenes images), for quick runs.
    pub fn scaled(&self, scale: f64) -> Result<Rig> {
        if !(scale > 0.0 && scale <= 4.0) {
            return Err(Error::InvalidArgument(format!("image scale {scale} is not in (0, 4]")));
        }
        let mut rig = self.clone();
        for camera in &mut rig.cameras {
            camera.width = ((f64::from(camera.width) * scale).round() as u32).max(1);
            camera.height = ((f64::from(camera.height) * scale).round() as u32).max(1);
            // Pixel centres sit at integer coordinates: x' = s·(x + ½) − ½.
            for row in 0..2 {
                camera.cam2img[row][row] *= scale;
                camera.cam2img[row][2] = scale * (camera.cam2img[row][2] + 0.5) - 0.5;
            }
        }
        Ok(rig)
    }
}

impl RigCamera {
    /// The sample-set record of this camera for an image file and time.
    pub fn sample(&self, img_path: &str, timestamp: f64) -> CameraSample {
        CameraSample {
            img_path: img_path.to_owned(),
            cam2img: self.cam2img,
            cam2ego: self.cam2ego,
            lidar2cam: self.lidar2cam,
            sample_data_token: String::new(),
            timestamp,
        }
    }

    /// `camera_from_lidar`.
    pub fn camera_from_lidar(&self) -> Result<Rigid3> {
        Ok(self.sample("", 0.0).camera_from_lidar()?)
    }

    /// `(fx, fy, cx, cy)`.
    pub fn intrinsics(&self) -> (f64, f64, f64, f64) {
        self.sample("", 0.0).intrinsics()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_rig_has_six_cameras_looking_around() {
        let rig = Rig::nuscenes().unwrap();
        let names: Vec<&str> = rig.cameras.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(names, cairn_core::samples::NUSCENES_CAMERAS);
        assert!(rig.licence.contains("CC BY-NC-SA"));
        // Optical axes (camera +z) in the LiDAR frame: front along +y, back −y.
        let axis = |k: usize| rig.cameras[k].camera_from_lidar().unwrap().inverse().rotation * nalgebra::Vector3::z();
        assert!(axis(0).y > 0.99 && axis(3).y < -0.99, "{} {}", axis(0), axis(3));
        assert!(rig.cameras.iter().all(|c| (c.width, c.height) == (1600, 900)));
    }

    #[test]
    fn scaling_keeps_the_field_of_view() {
        let rig = Rig::nuscenes().unwrap();
        let small = rig.scaled(0.25).unwrap();
        let (a, b) = (&rig.cameras[0], &small.cameras[0]);
        assert_eq!((b.width, b.height), (400, 225));
        let (fx, _, cx, _) = a.intrinsics();
        let (fx4, _, cx4, _) = b.intrinsics();
        assert!((fx4 - fx / 4.0).abs() < 1e-9);
        // The image edge maps to the image edge.
        assert!(((-0.5 - cx) / fx - (-0.5 - cx4) / fx4).abs() < 1e-12);
        assert!(rig.scaled(0.0).is_err());
    }
}
