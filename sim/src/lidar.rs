//! A spinning multi-beam LiDAR, by default shaped like nuScenes' LIDAR_TOP
//! (Velodyne HDL-32E): 32 beams from −30.67° to +10.67° elevation, 1084
//! firings per turn (0.332°), 20 Hz, 100 m range.
//!
//! One ray per beam and firing is cast through the scene's BVH, firings in
//! parallel (rayon); each firing draws its noise from its own generator
//! seeded by the sweep seed and the firing index, so a sweep does not depend
//! on thread scheduling. Noise: Gaussian range noise (σ = 2 cm, the HDL-32E
//! datasheet accuracy) and random dropout; rays that hit nothing within range
//! give no point. Intensity is a calibrated reflectivity in nuScenes' 0–255
//! scale: `120·ρ²·|cos θ|`, rounded, with ρ the surface's grey albedo and θ
//! the incidence angle (white lane paint ≈ 85, asphalt ≈ 3, like real
//! sweeps whose median is about 12). The sweep is a snapshot: the scene does
//! not move during the 50 ms turn.
//!
//! The sensor frame is nuScenes' LiDAR frame: z up, azimuth 0 along +x,
//! counter-clockwise; ring 0 is the lowest beam. Points are written in the
//! `.pcd.bin` layout (by [`cairn_core::samples::write_pcd_bin`]): five
//! little-endian float32 per point, x, y, z, intensity, ring, in firing
//! order (firing by firing, rings upwards).

use cairn_core::PointCloud;
use cairn_core::samples;
use cairn_core::transform::Rigid3;
use nalgebra::Point3;
use rayon::prelude::*;

use crate::geometry::V3;
use crate::noise::{RowRng, row_rng};
use crate::scene::{NO_OBJECT, Scene};
use crate::{Error, Result};

/// LiDAR parameters; the default is nuScenes' LIDAR_TOP (see the module doc).
#[derive(Debug, Clone, PartialEq)]
pub struct LidarConfig {
    /// Number of beams (rings).
    pub beams: usize,
    /// Elevation of the lowest beam, degrees (beams are evenly spaced).
    pub elevation_min_deg: f64,
    /// Elevation of the highest beam, degrees.
    pub elevation_max_deg: f64,
    /// Azimuth step between firings, degrees.
    pub azimuth_resolution_deg: f64,
    /// Turns per second.
    pub rate_hz: f64,
    /// Returns nearer than this are discarded (metres).
    pub min_range: f32,
    /// Returns farther than this are lost (metres).
    pub max_range: f32,
    /// Gaussian range noise σ (metres).
    pub range_sigma: f32,
    /// Probability that a return is lost.
    pub dropout: f32,
}

impl Default for LidarConfig {
    fn default() -> Self {
        LidarConfig {
            beams: 32,
            elevation_min_deg: -30.67,
            elevation_max_deg: 10.67,
            azimuth_resolution_deg: 360.0 / 1084.0,
            rate_hz: 20.0,
            min_range: 0.5,
            max_range: 100.0,
            range_sigma: 0.02,
            dropout: 0.01,
        }
    }
}

/// One LiDAR return.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LidarPoint {
    /// Position in the sensor frame (metres).
    pub p_in_lidar: [f32; 3],
    /// Reflectivity, 0–255.
    pub intensity: f32,
    /// Beam index, 0 = lowest.
    pub ring: u16,
    /// The object hit ([`NO_OBJECT`] for the static world): ground truth.
    pub object: u32,
}

/// One turn of the LiDAR.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct LidarScan {
    /// Returns in firing order.
    pub points: Vec<LidarPoint>,
}

/// A simulated spinning LiDAR.
#[derive(Debug, Clone)]
pub struct Lidar {
    /// Its parameters.
    pub config: LidarConfig,
    /// Unit ray per beam at azimuth 0: `(cos e, sin e)`.
    beams: Vec<(f32, f32)>,
    /// Per firing: `(cos φ, sin φ)`.
    azimuths: Vec<(f32, f32)>,
}

impl Lidar {
    /// A LiDAR with `config`; fails on a config with no beams or firings.
    pub fn new(config: LidarConfig) -> Result<Self> {
        let columns = (360.0 / config.azimuth_resolution_deg).round();
        if config.beams == 0 || !(1.0..=1e6).contains(&columns) || config.max_range <= config.min_range {
            return Err(Error::InvalidArgument(format!("LiDAR config: {config:?}")));
        }
        let span = config.elevation_max_deg - config.elevation_min_deg;
        let step = if config.beams > 1 { span / (config.beams - 1) as f64 } else { 0.0 };
        let beams = (0..config.beams)
            .map(|k| {
                let e = (config.elevation_min_deg + step * k as f64).to_radians();
                (e.cos() as f32, e.sin() as f32)
            })
            .collect();
        let columns = columns as usize;
        let azimuths = (0..columns)
            .map(|c| {
                let phi = std::f64::consts::TAU * c as f64 / columns as f64;
                (phi.cos() as f32, phi.sin() as f32)
            })
            .collect();
        Ok(Lidar { config, beams, azimuths })
    }

    /// Firings per turn.
    pub fn columns(&self) -> usize {
        self.azimuths.len()
    }

    /// Rays per turn (beams × firings).
    pub fn rays(&self) -> usize {
        self.beams.len() * self.azimuths.len()
    }

    /// The unit ray of `ring` at firing `column`, in the sensor frame.
    pub fn ray_in_lidar(&self, ring: usize, column: usize) -> V3 {
        let (ce, se) = self.beams[ring];
        let (cp, sp) = self.azimuths[column];
        V3::new(ce * cp, ce * sp, se)
    }

    /// One turn in `scene` from `world_from_lidar`. With `noise_seed`,
    /// range noise and dropout are drawn (seeded); with `None` the sweep is
    /// ideal.
    pub fn scan(&self, scene: &Scene, world_from_lidar: &Rigid3, noise_seed: Option<u64>) -> LidarScan {
        let rotation = world_from_lidar.rotation.to_rotation_matrix().matrix().cast::<f32>();
        let origin = world_from_lidar.translation.vector.cast::<f32>();
        let columns: Vec<Vec<LidarPoint>> = (0..self.columns())
            .into_par_iter()
            .map(|column| {
                let mut rng = noise_seed.map(|seed| row_rng(seed, column));
                let mut points = Vec::with_capacity(self.beams.len());
                let mut hint = None;
                for ring in 0..self.beams.len() {
                    let ray = self.ray_in_lidar(ring, column);
                    let dir = rotation * ray;
                    let Some(hit) = scene.intersect(&origin, &dir, self.config.min_range, self.config.max_range, hint)
                    else {
                        continue;
                    };
                    hint = Some(hit.primitive);
                    let mut range = hit.t;
                    if let Some(rng) = rng.as_mut() {
                        let (noise, keep) = (rng.normal(), uniform(rng) >= self.config.dropout);
                        range += self.config.range_sigma * noise;
                        if !keep {
                            continue;
                        }
                    }
                    let albedo = scene.albedo(&hit);
                    let grey = 0.299 * albedo[0] + 0.587 * albedo[1] + 0.114 * albedo[2];
                    let cos = -scene.normal_towards(&hit, &dir).dot(&dir);
                    let p = ray * range;
                    points.push(LidarPoint {
                        p_in_lidar: [p.x, p.y, p.z],
                        intensity: (120.0 * grey * grey * cos.abs() + 0.5).min(255.0).floor(),
                        ring: ring as u16,
                        object: scene.object_of(&hit).unwrap_or(NO_OBJECT),
                    });
                }
                points
            })
            .collect();
        LidarScan { points: columns.into_iter().flatten().collect() }
    }
}

/// A uniform sample in `[0, 1)` from 24 random bits.
fn uniform(rng: &mut RowRng) -> f32 {
    use rand::RngCore;
    (rng.next_u32() >> 8) as f32 / (1u32 << 24) as f32
}

impl LidarScan {
    /// The sweep as cairn-core's sample-set sweep (x, y, z, intensity,
    /// ring), ready for [`cairn_core::samples::write_pcd_bin`].
    pub fn sweep(&self) -> samples::LidarSweep {
        let mut sweep = samples::LidarSweep {
            cloud: PointCloud::with_capacity(self.points.len()),
            ring: Vec::with_capacity(self.points.len()),
        };
        let mut intensity = Vec::with_capacity(self.points.len());
        for p in &self.points {
            sweep.cloud.push(Point3::from(p.p_in_lidar));
            intensity.push(p.intensity);
            sweep.ring.push(p.ring);
        }
        sweep.cloud.intensity = Some(intensity);
        sweep
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::geometry::Rect;
    use crate::texture::Texture;
    use nalgebra::{Isometry3, Vector3};

    /// A floor at z = 0 and a wall at x = 10 (normal −x), grey 0.5.
    fn floor_and_wall() -> Scene {
        let floor = Rect::new(V3::new(-50.0, -50.0, 0.0), V3::x() * 100.0, V3::y() * 100.0, 0);
        let wall = Rect::new(V3::new(10.0, -50.0, -1.0), V3::z() * 30.0, V3::y() * 100.0, 0);
        let grey = Texture::Checker { size: 1.0, colours: [[0.5; 3], [0.5; 3]] };
        Scene::from_parts("test", 0, vec![floor, wall], vec![grey], Vec::new())
    }

    #[test]
    fn default_is_nuscenes_lidar_top() {
        let lidar = Lidar::new(LidarConfig::default()).unwrap();
        assert_eq!(lidar.columns(), 1084);
        assert_eq!(lidar.rays(), 34_688);
        // Ring 0 looks down at −30.67°, ring 31 up at +10.67°.
        let (low, high) = (lidar.ray_in_lidar(0, 0), lidar.ray_in_lidar(31, 0));
        assert!((low.z.asin().to_degrees() + 30.67).abs() < 1e-3);
        assert!((high.z.asin().to_degrees() - 10.67).abs() < 1e-3);
        assert!(Lidar::new(LidarConfig { beams: 0, ..Default::default() }).is_err());
    }

    #[test]
    fn ideal_points_lie_on_the_surfaces() {
        let lidar = Lidar::new(LidarConfig::default()).unwrap();
        let world_from_lidar = Isometry3::translation(0.0, 0.0, 1.8);
        let sweep = lidar.scan(&floor_and_wall(), &world_from_lidar, None);
        // Every downward beam hits the floor; upward ones hit the wall only
        // around azimuth 0.
        assert!(sweep.points.len() > 1084 * 22, "{} points", sweep.points.len());
        for p in &sweep.points {
            let [x, _, z] = p.p_in_lidar;
            let on_floor = (z + 1.8).abs() < 1e-3;
            let on_wall = (x - 10.0).abs() < 1e-3;
            assert!(on_floor || on_wall, "{p:?}");
            assert_eq!(p.object, NO_OBJECT);
        }
        // Head-on at the wall (ring of elevation ≈ 0, azimuth 0): ρ = 0.5, cos ≈ 1.
        let head_on = sweep.points.iter().find(|p| p.ring == 23 && p.p_in_lidar[1] == 0.0).unwrap();
        assert_eq!(head_on.intensity, 30.0);
    }

    #[test]
    fn noise_is_seeded_and_bounded() {
        let lidar = Lidar::new(LidarConfig { dropout: 0.1, ..Default::default() }).unwrap();
        let pose = Isometry3::new(Vector3::new(0.0, 0.0, 1.8), Vector3::z() * 0.3);
        let scene = floor_and_wall();
        let ideal = lidar.scan(&scene, &pose, None);
        let a = lidar.scan(&scene, &pose, Some(3));
        assert_eq!(a, lidar.scan(&scene, &pose, Some(3)));
        assert_ne!(a, lidar.scan(&scene, &pose, Some(4)));
        let kept = a.points.len() as f64 / ideal.points.len() as f64;
        assert!((0.87..0.93).contains(&kept), "kept {kept}");
        // Range noise: within 4σ of the floor along each ray.
        for p in &a.points {
            let range = V3::from(p.p_in_lidar).norm();
            // Nearer than 9 m: the floor (the wall is 10 m away).
            if range < 9.0 {
                let ideal_range = 1.8 * range / -p.p_in_lidar[2];
                assert!((range - ideal_range).abs() < 0.08 + 1e-3, "{range} vs {ideal_range}");
            }
        }
    }

    #[test]
    fn scan_converts_to_a_pcd_bin_sweep() {
        let scan = LidarScan {
            points: vec![LidarPoint { p_in_lidar: [1.0, -2.0, 0.5], intensity: 17.0, ring: 31, object: 4 }],
        };
        let sweep = scan.sweep();
        assert_eq!((sweep.cloud.x[0], sweep.cloud.y[0], sweep.cloud.z[0]), (1.0, -2.0, 0.5));
        assert_eq!((sweep.cloud.intensity, sweep.ring), (Some(vec![17.0]), vec![31]));
    }
}
