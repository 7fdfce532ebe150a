//! Regenerates the small trajectory fixtures in tests/data from the real TUM
//! fr1_xyz ground truth in ../shared/data (deterministic, seeded):
//!
//! ```text
//! cargo run -p cairn-e2e --example make_fixtures
//! ```
//!
//! - `fr1_xyz_gt.tum`: the ground truth at 10 Hz (every 10th pose).
//! - `fr1_xyz_est.tum`: a drifting, partly missing estimate of it, in its own
//!   world frame — what a tracker writes.

use anyhow::Result;
use cairn_core::Trajectory;
use cairn_core::trajectory::TrajectoryFormat;
use cairn_e2e::perturb::{Perturbation, perturb};
use cairn_e2e::{repo_root, shared_file};

fn main() -> Result<()> {
    let source = shared_file("trajectories/tum_fr1_xyz_groundtruth.txt").map_err(anyhow::Error::msg)?;
    let full = Trajectory::read(&source, TrajectoryFormat::Tum)?;
    let ids: Vec<usize> = (0..full.len()).step_by(10).collect();
    let mut gt = full.select(&ids);
    gt.name = "fr1_xyz_gt".into();
    let drifting = perturb(&gt, Perturbation::Drift, 2024);
    // Drop a few poses as a tracker that lost track for a moment would.
    let keep: Vec<usize> = (0..drifting.len()).filter(|i| !(120..135).contains(i)).collect();
    let est = drifting.select(&keep);
    let dir = repo_root().join("tests/data");
    gt.write(&dir.join("fr1_xyz_gt.tum"), TrajectoryFormat::Tum)?;
    est.write(&dir.join("fr1_xyz_est.tum"), TrajectoryFormat::Tum)?;
    println!("wrote {} and {} poses to {}", gt.len(), est.len(), dir.display());
    Ok(())
}
