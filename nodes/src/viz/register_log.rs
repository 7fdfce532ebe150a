//! What `cairn loop register` looks like in rerun (static data, in the
//! target's frame): `registration/target`, `registration/source` as read,
//! `registration/source_registered` (moved by target_from_source), and the
//! mutual-nearest-neighbour matches between the two as read, split into
//! `registration/matches/inliers` (within the RANSAC inlier distance after
//! the move) and `registration/matches/outliers`.

use cairn_core::cloud::PointCloud;
use cairn_core::transform::Rigid3;
use cairn_perception::register::CloudRegistration;
use nalgebra::Point3;

use super::stream::Stream;

/// At most this many points of each cloud are shown (an even subsample):
/// enough to judge an alignment, light enough for any viewer.
pub const SHOWN_POINTS: usize = 200_000;

const TARGET_COLOUR: [u8; 3] = [60, 110, 230];
const SOURCE_COLOUR: [u8; 3] = [240, 150, 30];
const REGISTERED_COLOUR: [u8; 3] = [30, 190, 90];
const INLIER_COLOUR: [u8; 3] = [30, 190, 90];
const OUTLIER_COLOUR: [u8; 3] = [220, 40, 40];

impl Stream {
    /// See [`super::Recorder::registration`].
    pub(super) fn registration(
        &self,
        target: &PointCloud,
        source: &PointCloud,
        found: &CloudRegistration,
        inlier_m: f64,
    ) {
        let identity = Rigid3::identity();
        self.log_static("registration/target", &points(target, &identity, TARGET_COLOUR));
        self.log_static("registration/source", &points(source, &identity, SOURCE_COLOUR));
        let registered = points(source, &found.target_from_source, REGISTERED_COLOUR);
        self.log_static("registration/source_registered", &registered);
        let (mut inliers, mut outliers) = (Vec::new(), Vec::new());
        for (p_in_target, p_in_source) in &found.pairs {
            let moved = moved(&found.target_from_source, p_in_source);
            let line = [p_in_target.coords.into(), p_in_source.coords.into()];
            if (moved - p_in_target.cast::<f64>()).norm() <= inlier_m {
                inliers.push(line);
            } else {
                outliers.push(line);
            }
        }
        let lines = |strips: Vec<[[f32; 3]; 2]>, colour| rerun::LineStrips3D::new(strips).with_colors([colour]);
        self.log_static("registration/matches/inliers", &lines(inliers, INLIER_COLOUR));
        self.log_static("registration/matches/outliers", &lines(outliers, OUTLIER_COLOUR));
        self.flush();
    }
}

/// `p_in_source` moved into the target frame.
fn moved(target_from_source: &Rigid3, p_in_source: &Point3<f32>) -> Point3<f64> {
    target_from_source * p_in_source.cast::<f64>()
}

/// Up to [`SHOWN_POINTS`] of `cloud`, moved by `target_from_cloud`.
fn points(cloud: &PointCloud, target_from_cloud: &Rigid3, colour: [u8; 3]) -> rerun::Points3D {
    let step = cloud.len().div_ceil(SHOWN_POINTS).max(1);
    let shown = cloud.points().step_by(step).map(|p| {
        let p = moved(target_from_cloud, &p);
        [p.x as f32, p.y as f32, p.z as f32]
    });
    rerun::Points3D::new(shown).with_colors([colour]).with_radii([0.003])
}
