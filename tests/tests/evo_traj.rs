//! `cairn bag export` of a nav_msgs/Odometry topic against
//! `evo_traj bag2 BAG TOPIC --save_as_tum` (evo reads the bag with rosbags):
//! the same poses at the same header stamps. The bag is written by cairn from
//! the committed fr1_xyz fixture.

use std::path::Path;

use anyhow::{Context, Result, bail};
use cairn_bags::cdr;
use cairn_bags::msg::RosMessage;
use cairn_bags::msg::builtin_interfaces::Time;
use cairn_bags::msg::geometry_msgs::{Pose, PoseWithCovariance, Twist, TwistWithCovariance};
use cairn_bags::msg::nav_msgs::Odometry;
use cairn_bags::msg::std_msgs::Header;
use cairn_bags::storage::{BagWriter, Connection};
use cairn_core::Trajectory;
use cairn_core::trajectory::TrajectoryFormat;
use cairn_e2e::{Oracle, oracles_required, repo_root, scratch_dir};
use clap::Parser;
use libtest_mimic::{Arguments, Failed, Trial};

fn write_odometry_bag(dir: &Path, trajectory: &Trajectory) -> Result<()> {
    let mut writer = BagWriter::create(dir)?;
    let connection = writer.add_connection(Connection {
        topic: "/odom".into(),
        type_name: Odometry::TYPE_NAME.into(),
        definition: Odometry::definition(),
        serialization_format: "cdr".into(),
        offered_qos_profiles: String::new(),
    })?;
    let stamps = trajectory.stamps.as_ref().context("fixture has stamps")?;
    for (stamp, world_from_body) in stamps.iter().zip(&trajectory.world_from_body) {
        let time = Time::from_secs_f64(*stamp)?;
        let odometry = Odometry {
            header: Header { stamp: time, frame_id: "odom".into() },
            child_frame_id: "base_link".into(),
            pose: PoseWithCovariance { pose: Pose::from_rigid(world_from_body), covariance: [0.0; 36] },
            twist: TwistWithCovariance { twist: Twist::default(), covariance: [0.0; 36] },
        };
        writer.write(connection, time.to_nanos()?, &cdr::encode(&odometry)?)?;
    }
    writer.finish()?;
    Ok(())
}

fn export_matches_evo_traj() -> Result<()> {
    let dir = scratch_dir("evo_traj")?;
    let fixture = Trajectory::read(&repo_root().join("tests/data/fr1_xyz_gt.tum"), TrajectoryFormat::Tum)?;
    let bag = dir.join("odom_bag");
    let _ = std::fs::remove_dir_all(&bag);
    write_odometry_bag(&bag, &fixture)?;

    let ours = dir.join("cairn.tum");
    let args = [
        "cairn",
        "bag",
        "export",
        &bag.display().to_string(),
        "--topic",
        "/odom",
        "--out",
        &ours.display().to_string(),
    ];
    cairn_nodes::run(&cairn_nodes::Cli::try_parse_from(args)?)?;

    // evo_traj writes `<topic stem>.tum` into its working directory.
    let evo = Oracle::find("evo_traj").map_err(anyhow::Error::msg)?;
    let out = std::process::Command::new(&evo.program)
        .args(["bag2", &bag.display().to_string(), "/odom", "--save_as_tum", "--no_warnings"])
        .current_dir(&dir)
        .output()?;
    if !out.status.success() {
        bail!("evo_traj failed: {}", String::from_utf8_lossy(&out.stderr));
    }
    let theirs = Trajectory::read(&dir.join("odom.tum"), TrajectoryFormat::Tum)?;
    let ours = Trajectory::read(&ours, TrajectoryFormat::Tum)?;
    if ours.len() != theirs.len() || ours.len() != fixture.len() {
        bail!("cairn exported {}, evo {} poses (bag has {})", ours.len(), theirs.len(), fixture.len());
    }
    let (s1, s2) = (ours.stamps.as_ref().context("stamps")?, theirs.stamps.as_ref().context("stamps")?);
    for i in 0..ours.len() {
        let (a, b) = (&ours.world_from_body[i], &theirs.world_from_body[i]);
        let dt = (s1[i] - s2[i]).abs();
        let dp = (a.translation.vector - b.translation.vector).norm();
        let dq = a.rotation.angle_to(&b.rotation);
        if dt > 1e-6 || dp > 1e-9 || dq > 1e-9 {
            bail!("pose {i}: Δt {dt:e} s, Δp {dp:e} m, Δq {dq:e} rad");
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}

fn main() {
    let args = Arguments::from_args();
    let missing = Oracle::find("evo_traj").err().filter(|_| !oracles_required());
    if let Some(reason) = &missing {
        eprintln!("skipping evo_traj: {reason}");
    }
    let trial = Trial::test("evo_traj/bag_export_odometry_matches_evo_traj_bag2", || {
        export_matches_evo_traj().map_err(|e| Failed::from(format!("{e:#}")))
    });
    libtest_mimic::run(&args, vec![trial.with_ignored_flag(missing.is_some())]).exit();
}
