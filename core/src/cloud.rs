//! Point clouds as struct-of-arrays: `x`, `y`, `z` and optional per-point
//! `intensity` and `rgb` channels, all of the same length.
//!
//! Coordinates are `f32` metres in whatever frame the cloud was built in;
//! name the variable after it (`cloud_in_camera`) and move it with a
//! `target_from_source` transform:
//!
//! ```
//! use cairn_core::{cloud::PointCloud, transform::Rigid3};
//! use nalgebra::{Point3, Vector3};
//! let mut cloud_in_camera = PointCloud::default();
//! cloud_in_camera.push(Point3::new(1.0, 0.0, 2.0));
//! let world_from_camera = Rigid3::translation(0.0, 0.0, 1.0);
//! let cloud_in_world = cloud_in_camera.transformed(&world_from_camera);
//! assert_eq!(cloud_in_world.point(0), Point3::new(1.0, 0.0, 3.0));
//! ```

use nalgebra::{Point2, Point3};

use crate::camera::PinholeCamera;
use crate::depth::DepthImage;
use crate::transform::Rigid3;
use crate::{Error, Result};

/// A point cloud, one entry per point in each channel.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct PointCloud {
    /// x coordinates (metres).
    pub x: Vec<f32>,
    /// y coordinates (metres).
    pub y: Vec<f32>,
    /// z coordinates (metres).
    pub z: Vec<f32>,
    /// Per-point intensity (LiDAR reflectance), if the sensor gives one.
    pub intensity: Option<Vec<f32>>,
    /// Per-point colour (RGB8), if known.
    pub rgb: Option<Vec<[u8; 3]>>,
}

impl PointCloud {
    /// An empty cloud with room for `capacity` points (xyz only).
    pub fn with_capacity(capacity: usize) -> Self {
        PointCloud {
            x: Vec::with_capacity(capacity),
            y: Vec::with_capacity(capacity),
            z: Vec::with_capacity(capacity),
            intensity: None,
            rgb: None,
        }
    }

    /// Number of points.
    pub fn len(&self) -> usize {
        self.x.len()
    }

    /// True when the cloud has no points.
    pub fn is_empty(&self) -> bool {
        self.x.is_empty()
    }

    /// Appends a point. Channels the cloud already has get a default value
    /// (intensity `0.0`, colour black) so that every channel keeps the same
    /// length; use [`Self::push_with`] to give them.
    pub fn push(&mut self, p: Point3<f32>) {
        self.push_with(p, None, None);
    }

    /// Appends a point with optional intensity and colour. Giving an
    /// attribute the cloud does not have yet creates that channel, with
    /// defaults (`0.0`, black) for the points before this one.
    pub fn push_with(&mut self, p: Point3<f32>, intensity: Option<f32>, rgb: Option<[u8; 3]>) {
        let before = self.len();
        if intensity.is_some() && self.intensity.is_none() {
            self.intensity = Some(vec![0.0; before]);
        }
        if rgb.is_some() && self.rgb.is_none() {
            self.rgb = Some(vec![[0; 3]; before]);
        }
        self.x.push(p.x);
        self.y.push(p.y);
        self.z.push(p.z);
        if let Some(channel) = &mut self.intensity {
            channel.push(intensity.unwrap_or(0.0));
        }
        if let Some(channel) = &mut self.rgb {
            channel.push(rgb.unwrap_or([0; 3]));
        }
    }

    /// Point `i`. Panics if `i >= len()`, like slice indexing.
    pub fn point(&self, i: usize) -> Point3<f32> {
        Point3::new(self.x[i], self.y[i], self.z[i])
    }

    /// All points, in order.
    pub fn points(&self) -> impl Iterator<Item = Point3<f32>> + '_ {
        self.x.iter().zip(&self.y).zip(&self.z).map(|((&x, &y), &z)| Point3::new(x, y, z))
    }

    /// Moves every point by `target_from_source` in place (computed in
    /// `f64`); intensities and colours are unchanged.
    pub fn transform(&mut self, target_from_source: &Rigid3) {
        for i in 0..self.len() {
            let p_in_source = Point3::new(f64::from(self.x[i]), f64::from(self.y[i]), f64::from(self.z[i]));
            let p_in_target = target_from_source * p_in_source;
            self.x[i] = p_in_target.x as f32;
            self.y[i] = p_in_target.y as f32;
            self.z[i] = p_in_target.z as f32;
        }
    }

    /// A copy of the cloud moved by `target_from_source`:
    /// `let cloud_in_world = cloud_in_camera.transformed(&world_from_camera)`.
    pub fn transformed(&self, target_from_source: &Rigid3) -> PointCloud {
        let mut moved = self.clone();
        moved.transform(target_from_source);
        moved
    }

    /// Unprojects every `stride`-th pixel (in both directions, starting at
    /// pixel (0, 0)) with a valid depth into the camera frame, undistorting
    /// the pixel first. The depth image must have the camera's size.
    pub fn from_depth(depth: &DepthImage, camera: &PinholeCamera, stride: usize) -> Result<PointCloud> {
        if stride == 0 {
            return Err(Error::InvalidArgument("point cloud from depth: stride must be at least 1".to_string()));
        }
        if (depth.width, depth.height) != (camera.width, camera.height) {
            return Err(Error::InvalidArgument(format!(
                "point cloud from depth: depth image is {}×{}, camera is {}×{}",
                depth.width, depth.height, camera.width, camera.height
            )));
        }
        let mut cloud_in_camera = PointCloud::with_capacity(depth.valid_count() / stride.saturating_mul(stride) + 1);
        for v in (0..depth.height).step_by(stride) {
            for u in (0..depth.width).step_by(stride) {
                if let Some(d) = depth.get(u, v) {
                    let pixel = Point2::new(f64::from(u), f64::from(v));
                    let p_in_camera = camera.unproject(pixel, f64::from(d));
                    cloud_in_camera.push(p_in_camera.cast::<f32>());
                }
            }
        }
        Ok(cloud_in_camera)
    }

    /// Checks that every channel has one entry per point and that every
    /// coordinate is finite.
    pub fn validate(&self) -> Result<()> {
        let n = self.len();
        let lengths = [
            ("y", Some(self.y.len())),
            ("z", Some(self.z.len())),
            ("intensity", self.intensity.as_ref().map(Vec::len)),
            ("rgb", self.rgb.as_ref().map(Vec::len)),
        ];
        for (name, len) in lengths {
            if let Some(len) = len.filter(|&len| len != n) {
                return Err(Error::PointCloud(format!("{n} x values but {len} {name} values")));
            }
        }
        if let Some(i) = self.points().position(|p| !p.coords.iter().all(|c| c.is_finite())) {
            return Err(Error::PointCloud(format!("point {i} is not finite: {}", self.point(i))));
        }
        Ok(())
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // tests may unwrap (STYLE.md: no unwrap outside tests)
mod tests {
    use super::*;
    use crate::camera::Distortion;
    use approx::assert_relative_eq;
    use nalgebra::Vector3;

    #[test]
    fn push_and_read_back() {
        let mut cloud = PointCloud::default();
        assert!(cloud.is_empty());
        cloud.push(Point3::new(1.0, 2.0, 3.0));
        cloud.push(Point3::new(-1.0, 0.5, 4.0));
        assert_eq!(cloud.len(), 2);
        assert_eq!(cloud.point(1), Point3::new(-1.0, 0.5, 4.0));
        assert_eq!(cloud.points().collect::<Vec<_>>(), vec![Point3::new(1.0, 2.0, 3.0), Point3::new(-1.0, 0.5, 4.0)]);
        assert!(cloud.intensity.is_none() && cloud.rgb.is_none());
        assert!(cloud.validate().is_ok());
    }

    #[test]
    fn attributes_keep_channels_the_same_length() {
        let mut cloud = PointCloud::default();
        cloud.push(Point3::new(0.0, 0.0, 1.0));
        cloud.push_with(Point3::new(0.0, 0.0, 2.0), Some(0.7), None);
        cloud.push_with(Point3::new(0.0, 0.0, 3.0), None, Some([255, 128, 0]));
        cloud.push(Point3::new(0.0, 0.0, 4.0));
        assert_eq!(cloud.intensity, Some(vec![0.0, 0.7, 0.0, 0.0]));
        assert_eq!(cloud.rgb, Some(vec![[0; 3], [0; 3], [255, 128, 0], [0; 3]]));
        assert!(cloud.validate().is_ok());
    }

    #[test]
    fn transformed_by_hand() {
        // camera_from_lidar: 90° about z, then +1 m along x.
        // (1, 2, 3) → rotated (−2, 1, 3) → translated (−1, 1, 3).
        let camera_from_lidar =
            Rigid3::new(Vector3::new(1.0, 0.0, 0.0), Vector3::new(0.0, 0.0, std::f64::consts::FRAC_PI_2));
        let mut cloud_in_lidar = PointCloud::default();
        cloud_in_lidar.push_with(Point3::new(1.0, 2.0, 3.0), Some(0.25), None);
        let cloud_in_camera = cloud_in_lidar.transformed(&camera_from_lidar);
        assert_relative_eq!(cloud_in_camera.point(0), Point3::new(-1.0, 1.0, 3.0), epsilon = 1e-6);
        assert_eq!(cloud_in_camera.intensity, Some(vec![0.25]));
        assert_eq!(cloud_in_lidar.point(0), Point3::new(1.0, 2.0, 3.0), "the source is untouched");
        let mut in_place = cloud_in_lidar.clone();
        in_place.transform(&camera_from_lidar);
        assert_eq!(in_place, cloud_in_camera);
    }

    #[test]
    fn from_depth_by_hand() {
        // fx = fy = 2, cx = 1, cy = 0.5: X = (u − 1)/2·d, Y = (v − 0.5)/2·d.
        let camera = PinholeCamera::new(3, 2, 2.0, 2.0, 1.0, 0.5);
        let depth = DepthImage::new(3, 2, vec![2.0, 0.0, 4.0, 1.0, 1.0, f32::NAN]).unwrap();
        let cloud = PointCloud::from_depth(&depth, &camera, 1).unwrap();
        let expected = vec![
            Point3::new(-1.0, -0.5, 2.0), // (0, 0), d = 2
            Point3::new(2.0, -1.0, 4.0),  // (2, 0), d = 4
            Point3::new(-0.5, 0.25, 1.0), // (0, 1), d = 1
            Point3::new(0.0, 0.25, 1.0),  // (1, 1), d = 1
        ];
        assert_eq!(cloud.points().collect::<Vec<_>>(), expected);
        // stride 2 keeps pixels (0, 0) and (2, 0) of row 0.
        let sparse = PointCloud::from_depth(&depth, &camera, 2).unwrap();
        assert_eq!(sparse.points().collect::<Vec<_>>(), expected[..2].to_vec());
    }

    #[test]
    fn from_depth_undistorts_and_round_trips_through_project() {
        let camera = PinholeCamera {
            distortion: Distortion::plumb_bob([0.2624, -0.9531, -0.0054, 0.0026, 1.1633]),
            ..PinholeCamera::new(8, 6, 5.173, 5.165, 3.186, 2.553)
        };
        let depth = DepthImage::new(8, 6, vec![1.5; 48]).unwrap();
        let cloud = PointCloud::from_depth(&depth, &camera, 3).unwrap();
        assert_eq!(cloud.len(), 3 * 2);
        let p_in_camera = cloud.point(4).cast::<f64>(); // pixel (3, 3)
        assert_relative_eq!(camera.project(p_in_camera).unwrap(), Point2::new(3.0, 3.0), epsilon = 1e-5);
    }

    #[test]
    fn from_depth_rejects_bad_arguments() {
        let camera = PinholeCamera::new(3, 2, 2.0, 2.0, 1.0, 0.5);
        let depth = DepthImage::new(2, 2, vec![1.0; 4]).unwrap();
        assert!(PointCloud::from_depth(&depth, &camera, 1).is_err());
        let depth = DepthImage::new(3, 2, vec![1.0; 6]).unwrap();
        assert!(PointCloud::from_depth(&depth, &camera, 0).is_err());
    }

    #[test]
    fn validate_finds_ragged_channels_and_non_finite_points() {
        let mut cloud = PointCloud::default();
        cloud.push(Point3::new(0.0, 0.0, 1.0));
        cloud.push(Point3::new(0.0, 0.0, 2.0));
        let mut ragged = cloud.clone();
        ragged.z.pop();
        assert!(ragged.validate().unwrap_err().to_string().contains("2 x values but 1 z values"));
        let mut ragged = cloud.clone();
        ragged.rgb = Some(vec![[1, 2, 3]]);
        assert!(ragged.validate().unwrap_err().to_string().contains("1 rgb values"));
        let mut bad = cloud.clone();
        bad.y[1] = f32::NAN;
        assert!(bad.validate().unwrap_err().to_string().contains("point 1 is not finite"));
        bad.y[1] = f32::INFINITY;
        assert!(bad.validate().is_err());
    }
}
