//! `config/slam.yaml`, the documented ROS 2 parameter file, stays true: it
//! parses to exactly `SlamConfig::default()`, lists every parameter under
//! its dotted name with a comment above it, and a round trip through
//! `to_ros_params` is lossless.

#![allow(clippy::unwrap_used)] // tests may unwrap (STYLE.md: no unwrap outside tests)

use cairn_slam::SlamConfig;

fn config_file() -> String {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../config/slam.yaml");
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()))
}

#[test]
fn config_file_is_exactly_the_defaults() {
    assert_eq!(SlamConfig::from_ros_params(&config_file()).unwrap(), SlamConfig::default());
}

#[test]
fn config_file_documents_every_parameter() {
    let text = config_file();
    let lines: Vec<&str> = text.lines().collect();
    for name in SlamConfig::ros_parameter_names().unwrap() {
        let at = lines.iter().position(|l| l.trim_start().starts_with(&format!("{name}:")));
        let at = at.unwrap_or_else(|| panic!("config/slam.yaml does not list {name}"));
        assert!(at > 0 && lines[at - 1].trim_start().starts_with('#'), "{name} has no comment above it");
    }
}

#[test]
fn config_file_round_trips() {
    let config = SlamConfig::from_ros_params(&config_file()).unwrap();
    let written = config.to_ros_params().unwrap();
    assert_eq!(SlamConfig::from_ros_params(&written).unwrap(), config);
}
