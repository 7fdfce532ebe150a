//! `config/slam.yaml` documents the node's own parameters too: it parses to
//! exactly the node's defaults and lists every `topics.*`, `frames.*` and
//! `node.*` parameter with a comment above it (scripts/slam_yaml.py writes
//! it; slam/tests/config_file.rs checks the SLAM groups).

#![allow(clippy::unwrap_used)] // tests may unwrap (STYLE.md: no unwrap outside tests)

use cairn_nodes::ros::params::{NodeConfig, NodeParams};
use cairn_slam::SlamConfig;

fn config_file() -> String {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../config/slam.yaml");
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()))
}

#[test]
fn config_file_is_exactly_the_node_defaults() {
    let config = NodeConfig::from_yaml(&config_file()).unwrap();
    assert_eq!(config.node, NodeParams::default());
    assert_eq!(config.slam, SlamConfig::default());
}

#[test]
fn config_file_documents_every_node_parameter() {
    let text = config_file();
    let lines: Vec<&str> = text.lines().collect();
    for name in NodeParams::names().unwrap() {
        let at = lines.iter().position(|l| l.trim_start().starts_with(&format!("{name}:")));
        let at = at.unwrap_or_else(|| panic!("config/slam.yaml does not list {name}"));
        assert!(at > 0 && lines[at - 1].trim_start().starts_with('#'), "{name} has no comment above it");
    }
}
