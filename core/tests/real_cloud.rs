//! The real indoor cloud in ../shared/data/clouds (CloudCompare ASCII PLY,
//! xyz + rgb) reads completely and survives a binary round trip.
//!
//! Without the shared data folder the trial is reported as ignored
//! (skipped), never as passed.

#![allow(clippy::unwrap_used)]

use std::path::{Path, PathBuf};

use cairn_core::ply::{self, Encoding};
use libtest_mimic::{Arguments, Failed, Trial};

fn cloud_file() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/data/clouds/vigohome_livingroom_downstairs.ply")
}

fn check() -> Result<(), Failed> {
    let cloud = ply::read(cloud_file())?;
    // The header's `element vertex 94520`, every one read and finite.
    assert_eq!(cloud.len(), 94_520);
    cloud.validate()?;
    assert!(cloud.rgb.is_some() && cloud.intensity.is_none());
    // An indoor room: metres, a few across.
    let extent = |c: &[f32]| {
        c.iter().copied().fold(f32::NEG_INFINITY, f32::max) - c.iter().copied().fold(f32::INFINITY, f32::min)
    };
    for (axis, values) in [("x", &cloud.x), ("y", &cloud.y), ("z", &cloud.z)] {
        let span = extent(values);
        assert!((0.5..30.0).contains(&span), "{axis} spans {span} m");
    }
    let bytes = ply::to_bytes(&cloud, Encoding::BinaryLittleEndian);
    assert_eq!(ply::from_bytes(&bytes, "<memory>")?, cloud);
    Ok(())
}

fn main() {
    let args = Arguments::from_args();
    let missing = !cloud_file().exists();
    if missing {
        eprintln!("skipping: {} is absent", cloud_file().display());
    }
    let trial = Trial::test("real_cloud/reads_completely_and_round_trips", check).with_ignored_flag(missing);
    libtest_mimic::run(&args, vec![trial]).exit();
}
