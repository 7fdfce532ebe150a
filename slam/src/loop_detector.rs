//! [`L3dLoopDetector`]: L3D loop closure (Zhou et al., RA-L 2022) on
//! cairn-perception's registration, with the descriptor as a swappable
//! piece ([`LocalDescriptor`]: FPFH, or the trained DIP network).
//!
//! Per keyframe ([`crate::config::LoopConfig`] holds every threshold):
//! 1. **Cloud**: back-project every `depth_stride`-th depth pixel (metres;
//!    0, NaN and inf are no depth) up to `max_depth_m`, voxel-downsample,
//!    normals facing the camera, descriptors on `keypoints` random points.
//! 2. **Candidates**: past keyframes outside the temporal window whose
//!    camera centre and optical axis, by the current graph estimate, lie
//!    within the search gates widened by `gate_sigma` marginal standard
//!    deviations; the nearest `max_candidates` are registered.
//! 3. **Registration**: mutual nearest neighbours → RANSAC → L3D overlap,
//!    then point-to-plane ICP on the whole clouds.
//! 4. **Verification** (a false loop is the failure users fear most): enough
//!    inliers, overlap, ICP close to RANSAC and a dense fit (`min_fitness`),
//!    and the relative pose consistent with the graph's within its
//!    uncertainty. The best surviving candidate (by overlap) becomes a loop
//!    edge whose information grows with its inlier count.

use std::time::Instant;

use cairn_core::transform::Rigid3;
use cairn_core::{DepthImage, PinholeCamera, PointCloud};
use cairn_perception::describe::{DescribeConfig, DescribedCloud, LocalDescriptor, MatchConfig};
use cairn_perception::describe::{describe_cloud, register_described};
use cairn_perception::fpfh::Orientation;
use cairn_perception::icp::{self, IcpConfig};
use cairn_perception::l3d::{RansacConfig, voxel_downsample};
use nalgebra::{Matrix3, Matrix6, Point3, Vector3, Vector6};

use crate::config::LoopConfig;
use crate::graph::twist_of;
use crate::loops::{Keyframe, LoopDecision, LoopDetector, LoopEdge, LoopOutcome, PoseGraphView, RejectReason};
use crate::{Error, Result};

/// Fewest downsampled points for a keyframe to be described.
const MIN_POINTS: usize = 50;

/// A keyframe the detector has described.
#[derive(Debug)]
struct Stored {
    id: usize,
    stamp: f64,
    cloud: Option<DescribedCloud>,
}

/// A candidate's registration and checks.
pub(crate) struct Checked {
    pub(crate) id: usize,
    pub(crate) to_from_from: Rigid3,
    pub(crate) overlap: f64,
    pub(crate) inliers: usize,
    pub(crate) fitness: f64,
    pub(crate) information: Matrix6<f64>,
    pub(crate) failure: Option<RejectReason>,
}

/// The L3D loop detector (see the module documentation).
#[derive(Debug)]
pub struct L3dLoopDetector {
    config: LoopConfig,
    descriptor: Box<dyn LocalDescriptor>,
    keyframes: Vec<Stored>,
    decisions: Vec<LoopDecision>,
    describe_ms: f64,
}

impl L3dLoopDetector {
    /// A detector with `descriptor` and the `loops` group of the SLAM
    /// configuration.
    pub fn new(config: LoopConfig, descriptor: Box<dyn LocalDescriptor>) -> Self {
        L3dLoopDetector { config, descriptor, keyframes: Vec::new(), decisions: Vec::new(), describe_ms: 0.0 }
    }

    /// The descriptor's name (`"fpfh"`).
    pub fn descriptor_name(&self) -> &'static str {
        self.descriptor.name()
    }

    fn describe(&self, keyframe: &Keyframe<'_>) -> Result<Option<DescribedCloud>> {
        describe_keyframe(&self.config, self.descriptor.as_ref(), keyframe)
    }

    /// Past keyframes inside the gates, nearest first (indices into
    /// `self.keyframes`), with the newest keyframe's marginal covariance.
    fn candidates(&self, newest: &Stored, graph: &PoseGraphView<'_>) -> Result<Vec<(usize, Rigid3)>> {
        let c = &self.config;
        let Some(world_from_new) = graph.world_from_keyframe(newest.id) else { return Ok(Vec::new()) };
        let old: Vec<usize> = (0..self.keyframes.len())
            .filter(|&i| self.keyframes[i].cloud.is_some())
            .filter(|&i| self.keyframes[i].stamp <= newest.stamp - c.temporal_window_s)
            .collect();
        if old.is_empty() {
            return Ok(Vec::new());
        }
        let new_covariance = graph.marginal_covariance(newest.id)?;
        let mut gated = Vec::new();
        for i in old {
            let id = self.keyframes[i].id;
            let Some(world_from_old) = graph.world_from_keyframe(id) else { continue };
            let covariance = new_covariance + graph.marginal_covariance(id)?;
            let (sigma_t, sigma_r) = (block_sigma(&covariance, 0), block_sigma(&covariance, 3));
            let distance = (world_from_new.translation.vector - world_from_old.translation.vector).norm();
            let angle = (world_from_new.rotation * Vector3::z()).angle(&(world_from_old.rotation * Vector3::z()));
            let max_distance = c.search_radius_m + c.gate_sigma * sigma_t;
            let max_angle = c.max_view_angle_deg.to_radians() + c.gate_sigma * sigma_r;
            if distance <= max_distance && angle <= max_angle {
                let score = distance / max_distance + angle / max_angle;
                gated.push((score, i, world_from_old.inverse() * world_from_new));
            }
        }
        gated.sort_by(|a, b| a.0.total_cmp(&b.0));
        Ok(gated.into_iter().take(c.max_candidates).map(|(_, i, old_from_new)| (i, old_from_new)).collect())
    }

    /// Registers the newest keyframe (source) onto candidate `index`
    /// (target) and runs the checks that need no graph.
    fn register(&self, new: &DescribedCloud, index: usize) -> Option<Checked> {
        let stored = &self.keyframes[index];
        Some(register_pair(&self.config, stored.cloud.as_ref()?, stored.id, new))
    }
}

impl LoopDetector for L3dLoopDetector {
    fn add_keyframe(&mut self, keyframe: &Keyframe<'_>) -> Result<()> {
        let start = Instant::now();
        let cloud = self.describe(keyframe)?;
        self.describe_ms = start.elapsed().as_secs_f64() * 1e3;
        self.keyframes.push(Stored { id: keyframe.id, stamp: keyframe.stamp, cloud });
        Ok(())
    }

    fn detect(&mut self, graph: &PoseGraphView<'_>) -> Result<Vec<LoopEdge>> {
        let Some(newest) = self.keyframes.last() else { return Ok(Vec::new()) };
        let mut decision = LoopDecision {
            keyframe: newest.id,
            candidates: 0,
            best: None,
            overlap: 0.0,
            inliers: 0,
            fitness: 0.0,
            outcome: LoopOutcome::NoCandidates,
            describe_ms: self.describe_ms,
            candidates_ms: 0.0,
            registration_ms: 0.0,
        };
        let start = Instant::now();
        let candidates = match &newest.cloud {
            Some(_) => self.candidates(newest, graph)?,
            None => Vec::new(),
        };
        decision.candidates_ms = start.elapsed().as_secs_f64() * 1e3;
        decision.candidates = candidates.len();
        let start = Instant::now();
        let best = self.best_verified(newest, &candidates, graph)?;
        decision.registration_ms = start.elapsed().as_secs_f64() * 1e3;
        let mut edges = Vec::new();
        if let Some(best) = best {
            (decision.best, decision.overlap) = (Some(best.id), best.overlap);
            (decision.inliers, decision.fitness) = (best.inliers, best.fitness);
            decision.outcome = match best.failure {
                None => {
                    let (from, to, to_from_from) = (newest.id, best.id, best.to_from_from);
                    edges.push(LoopEdge { from, to, to_from_from, information: best.information, score: best.overlap });
                    LoopOutcome::Accepted
                }
                Some(reason) => LoopOutcome::Rejected(reason),
            };
        }
        self.decisions.push(decision);
        Ok(edges)
    }

    fn decisions(&self) -> &[LoopDecision] {
        &self.decisions
    }
}

impl L3dLoopDetector {
    /// Registers every candidate, checks the survivors against the graph,
    /// and returns the best accepted one, else the best-scoring failure.
    fn best_verified(
        &self,
        newest: &Stored,
        candidates: &[(usize, Rigid3)],
        graph: &PoseGraphView<'_>,
    ) -> Result<Option<Checked>> {
        let Some(new) = newest.cloud.as_ref() else { return Ok(None) };
        let mut results = Vec::with_capacity(candidates.len());
        for &(index, old_from_new) in candidates {
            let Some(mut checked) = self.register(new, index) else { continue };
            if checked.failure.is_none() {
                let covariance = graph.marginal_covariance(newest.id)? + graph.marginal_covariance(checked.id)?;
                if !self.consistent(&checked.to_from_from, &old_from_new, &covariance) {
                    checked.failure = Some(RejectReason::InconsistentWithGraph);
                }
            }
            results.push(checked);
        }
        // Accepted first, then by overlap.
        Ok(results.into_iter().max_by(|a, b| {
            (a.failure.is_none(), a.overlap)
                .partial_cmp(&(b.failure.is_none(), b.overlap))
                .unwrap_or(std::cmp::Ordering::Equal)
        }))
    }

    /// Whether the measured `old_from_new` agrees with the graph's within
    /// `gate_sigma` of the summed marginals (in the newest keyframe's frame;
    /// the floor keeps a confident graph from refusing every correction).
    fn consistent(&self, measured: &Rigid3, estimated: &Rigid3, covariance: &Matrix6<f64>) -> bool {
        let c = &self.config;
        let floor_r = c.consistency_floor_deg.to_radians();
        let floor = Vector6::new(
            c.consistency_floor_m,
            c.consistency_floor_m,
            c.consistency_floor_m,
            floor_r,
            floor_r,
            floor_r,
        );
        let total = covariance + Matrix6::from_diagonal(&floor.component_mul(&floor));
        // The error as a right perturbation of the estimate: Exp(e) = estimated⁻¹ · measured.
        let error = twist_of(&(estimated.inverse() * measured));
        match total.cholesky() {
            Some(cholesky) => (error.transpose() * cholesky.solve(&error))[(0, 0)].sqrt() <= c.gate_sigma,
            None => false,
        }
    }
}

/// The described cloud of a keyframe (camera frame), or `None` when it sees
/// too little to be described.
pub(crate) fn describe_keyframe(
    c: &LoopConfig,
    descriptor: &dyn LocalDescriptor,
    keyframe: &Keyframe<'_>,
) -> Result<Option<DescribedCloud>> {
    let points = keyframe_points(keyframe.depth_m, &keyframe.camera, c.depth_stride, c.max_depth_m, c.voxel_m)?;
    // A keyframe that sees almost nothing is never a loop.
    if points.len() < MIN_POINTS {
        return Ok(None);
    }
    let config = DescribeConfig {
        normal_radius_m: c.normal_radius_voxels * c.voxel_m,
        normal_max_neighbours: 30,
        orientation: Orientation::Viewpoint(Point3::origin()),
        keypoints: c.keypoints,
        seed: c.seed ^ keyframe.id as u64,
    };
    describe_cloud(points, descriptor, &config).map(Some).map_err(detector_error)
}

/// Registers `new` (source) onto the keyframe `old_id`'s cloud `old`
/// (target) and runs the checks that need no graph: inliers, overlap, ICP
/// agreement and fit, a full-rank information matrix.
pub(crate) fn register_pair(c: &LoopConfig, old: &DescribedCloud, old_id: usize, new: &DescribedCloud) -> Checked {
    let voxel = f64::from(c.voxel_m);
    let ransac = RansacConfig {
        max_iterations: c.ransac_iterations,
        inlier_m: c.inlier_voxels * voxel,
        seed: c.seed,
        ..RansacConfig::default()
    };
    let mut checked = Checked {
        id: old_id,
        to_from_from: Rigid3::identity(),
        overlap: 0.0,
        inliers: 0,
        fitness: 0.0,
        information: Matrix6::identity(),
        failure: Some(RejectReason::TooFewInliers),
    };
    let Ok(found) = register_described(old, new, &MatchConfig { ransac, tau_m: ransac.inlier_m }) else {
        return checked;
    };
    (checked.overlap, checked.inliers, checked.to_from_from) = (found.overlap, found.inliers, found.target_from_source);
    if found.inliers < c.min_inliers {
        return checked;
    }
    if found.overlap < c.min_overlap {
        checked.failure = Some(RejectReason::LowOverlap);
        return checked;
    }
    let icp_config = IcpConfig { max_distance_m: c.icp_distance_voxels * voxel, max_iterations: 20, min_step: 1e-5 };
    let refined = icp::refine(old, new, &found.target_from_source, &icp_config);
    checked.fitness = refined.fitness;
    let shift = (refined.target_from_source.inverse() * found.target_from_source).translation.vector.norm();
    if refined.fitness < c.min_fitness || shift > c.max_icp_shift_m {
        checked.failure = Some(RejectReason::IcpDisagrees);
        return checked;
    }
    checked.to_from_from = refined.target_from_source;
    checked.information = pair_information(&found.pairs, &checked.to_from_from, ransac.inlier_m, c.point_sigma_m);
    // Collinear inliers leave a direction unmeasured: not a usable edge.
    if checked.information.cholesky().is_none() {
        checked.failure = Some(RejectReason::TooFewInliers);
        return checked;
    }
    checked.failure = None;
    checked
}

/// The keyframe cloud (camera frame, voxel-downsampled) from its depth.
pub fn keyframe_points(
    depth: &DepthImage,
    camera: &PinholeCamera,
    stride: usize,
    max_depth_m: f32,
    voxel_m: f32,
) -> Result<Vec<Point3<f32>>> {
    let cloud = PointCloud::from_depth(depth, camera, stride)?;
    let mut near = PointCloud::with_capacity(cloud.len());
    for p in cloud.points().filter(|p| p.z <= max_depth_m && p.coords.iter().all(|c| c.is_finite())) {
        near.push(p);
    }
    voxel_downsample(&near, voxel_m).map_err(detector_error)
}

/// Information of the loop edge's error twist `(v, ω)` from the RANSAC
/// pairs that are inliers under `to_from_from`: each counts as a point
/// measurement with standard deviation `sigma_m`, `Λ = Σ JᵀJ / σ²` with
/// `J = [I, −[q]×]` at the moved source point `q`.
fn pair_information(
    pairs: &[(Point3<f32>, Point3<f32>)],
    to_from_from: &Rigid3,
    inlier_m: f64,
    sigma_m: f64,
) -> Matrix6<f64> {
    let mut information = Matrix6::zeros();
    for (target, source) in pairs {
        let q = to_from_from * source.cast::<f64>();
        if (q - target.cast::<f64>()).norm() >= inlier_m {
            continue;
        }
        let mut jacobian = nalgebra::Matrix3x6::zeros();
        jacobian.fixed_view_mut::<3, 3>(0, 0).copy_from(&Matrix3::identity());
        jacobian.fixed_view_mut::<3, 3>(0, 3).copy_from(&(-q.coords.cross_matrix()));
        information += jacobian.transpose() * jacobian;
    }
    information / (sigma_m * sigma_m)
}

/// √(trace / 3) of the 3×3 diagonal block at `start` (0: translation,
/// 3: rotation): a per-axis standard deviation.
fn block_sigma(covariance: &Matrix6<f64>, start: usize) -> f64 {
    (covariance.fixed_view::<3, 3>(start, start).trace().max(0.0) / 3.0).sqrt()
}

fn detector_error(error: cairn_perception::Error) -> Error {
    Error::LoopDetector(Box::new(error))
}
