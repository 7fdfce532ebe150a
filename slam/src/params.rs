//! [`SlamConfig`] in the ROS 2 parameter-file format — the one file format
//! that `cairn slam --config`, the node's `--params` and `ros2 launch` read:
//!
//! ```yaml
//! cairn_slam:            # or /cairn_slam, /ns/cairn_slam, /** (any node)
//!   ros__parameters:
//!     edges.pyramid_levels: 3
//!     tracking:          # nested maps are the same dotted names
//!       max_points: 3000
//! ```
//!
//! Every parameter is `group.field` of [`SlamConfig`]; missing ones keep
//! their defaults. Entries for other nodes are ignored; when several entries
//! match (a `/**` wildcard and `cairn_slam`), later ones override earlier
//! ones, as in ROS 2. An unknown name is an error naming it and its near
//! matches; a value of the wrong type (a string for a number, `1.5` for an
//! integer) is an error naming the parameter. Integers are accepted for
//! floating-point parameters. `config/slam.yaml` lists every parameter with
//! its default and documentation.
//!
//! The same file carries the ROS 2 node's own groups ([`NODE_GROUPS`]:
//! `topics.*`, `frames.*`, `node.*`), which this crate skips and cairn-nodes
//! reads with the same rules ([`node_parameters`], [`apply_parameters`]).

use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_norway::{Mapping, Value};

use crate::config::SlamConfig;
use crate::{Error, Result};

/// The node name the parameters belong to.
pub const NODE_NAME: &str = "cairn_slam";

/// The key under a node that holds its parameters.
const PARAMETERS_KEY: &str = "ros__parameters";

/// Parameter groups of the ROS 2 node that shares this file (topics, frame
/// ids, node name; cairn-nodes reads and checks them):
/// [`SlamConfig::from_ros_params`] skips them.
pub const NODE_GROUPS: &[&str] = &["topics", "frames", "node"];

/// Whether a dotted name belongs to one of the [`NODE_GROUPS`].
pub fn is_node_group(name: &str) -> bool {
    NODE_GROUPS.iter().any(|group| name.split('.').next() == Some(*group))
}

/// Every `(dotted name, value)` this node is given by a ROS 2 parameter
/// file, in file order (entries for other nodes are skipped; a later entry
/// overrides an earlier one when applied). An error when the file is not
/// YAML or has no entry for this node.
pub fn node_parameters(yaml: &str) -> Result<Vec<(String, Value)>> {
    parameters_of_node(yaml, NODE_NAME)
}

/// [`node_parameters`] of the node named `node` (another node that shares
/// the file format, e.g. the detector `cairn_detect`).
pub fn parameters_of_node(yaml: &str, node: &str) -> Result<Vec<(String, Value)>> {
    let document: Value = serde_norway::from_str(yaml).map_err(|e| params_error(format!("not YAML: {e}")))?;
    let Value::Mapping(nodes) = document else {
        return Err(params_error(format!("expected a map of node names, as `{node}: {PARAMETERS_KEY}: …`")));
    };
    let mut given: Vec<(String, Value)> = Vec::new();
    let mut matched = false;
    collect_node_parameters(&nodes, "", node, &mut matched, &mut given)?;
    if !matched {
        return Err(params_error(format!("no `{node}:` (or `/**:`) entry with `{PARAMETERS_KEY}:`")));
    }
    Ok(given)
}

/// `defaults` with the `given` dotted parameters applied: each name must be
/// one of `defaults`' (an error names near matches otherwise) and each
/// value must have its default's type. Any serde struct of nested groups
/// works (the same rules for [`SlamConfig`] and the node's own groups).
pub fn apply_parameters<T: Serialize + DeserializeOwned>(defaults: &T, given: Vec<(String, Value)>) -> Result<T> {
    let mut tree = to_tree(defaults)?;
    let known = dotted_leaves(&tree);
    for (name, value) in given {
        let Some((_, default)) = known.iter().find(|(known_name, _)| *known_name == name) else {
            return Err(unknown_parameter(&name, &known));
        };
        check_type(&name, default, &value)?;
        set_dotted(&mut tree, &name, value);
    }
    serde_norway::from_value(Value::Mapping(tree)).map_err(|e| params_error(e.to_string()))
}

/// Every `(dotted name, value)` leaf of a serde struct of nested groups, in
/// field order.
pub fn parameter_leaves<T: Serialize>(value: &T) -> Result<Vec<(String, Value)>> {
    Ok(dotted_leaves(&to_tree(value)?))
}

impl SlamConfig {
    /// Reads a ROS 2 parameter file (YAML text; see the [module
    /// docs](crate::params)) and validates the result.
    pub fn from_ros_params(yaml: &str) -> Result<SlamConfig> {
        let given = node_parameters(yaml)?;
        let ours = given.into_iter().filter(|(name, _)| !is_node_group(name)).collect();
        let config = apply_parameters(&SlamConfig::default(), ours)?;
        config.validate()?;
        Ok(config)
    }

    /// This configuration as a ROS 2 parameter file for node [`NODE_NAME`],
    /// every parameter under its dotted name (no comments; see
    /// `config/slam.yaml` for the documented defaults).
    pub fn to_ros_params(&self) -> Result<String> {
        let tree = to_tree(self)?;
        let mut flat = Mapping::new();
        for (name, value) in dotted_leaves(&tree) {
            flat.insert(Value::String(name), value);
        }
        let mut node = Mapping::new();
        node.insert(Value::String(PARAMETERS_KEY.into()), Value::Mapping(flat));
        let mut document = Mapping::new();
        document.insert(Value::String(NODE_NAME.into()), Value::Mapping(node));
        serde_norway::to_string(&document).map_err(|e| params_error(e.to_string()))
    }

    /// Every parameter's dotted name, in [`SlamConfig`]'s field order.
    pub fn ros_parameter_names() -> Result<Vec<String>> {
        Ok(dotted_leaves(&default_tree()?).into_iter().map(|(name, _)| name).collect())
    }
}

fn params_error(message: String) -> Error {
    Error::Config(format!("ROS 2 parameters: {message}"))
}

/// Walks node entries (`name: {ros__parameters: …}`, possibly nested in
/// namespaces) and appends the parameters of every entry that names this
/// node or a wildcard, flattened to dotted names.
fn collect_node_parameters(
    nodes: &Mapping,
    namespace: &str,
    node: &str,
    matched: &mut bool,
    given: &mut Vec<(String, Value)>,
) -> Result<()> {
    for (key, value) in nodes {
        let name = key_string(key)?;
        let path = format!("{namespace}/{}", name.trim_matches('/'));
        let Value::Mapping(entry) = value else { continue };
        match entry.get(PARAMETERS_KEY) {
            Some(parameters) if names_node(&path, node) => {
                let Value::Mapping(parameters) = parameters else {
                    return Err(params_error(format!("`{name}: {PARAMETERS_KEY}:` must be a map")));
                };
                *matched = true;
                flatten(parameters, "", given)?;
            }
            Some(_) => {}
            None => collect_node_parameters(entry, &path, node, matched, given)?,
        }
    }
    Ok(())
}

/// Whether a fully qualified node path (`/ns/name`) addresses `node`: its
/// last segment is `node` or a wildcard (`*`, `**`).
fn names_node(path: &str, node: &str) -> bool {
    path.rsplit('/').next().is_some_and(|last| last == node || last == "*" || last == "**")
}

/// Flattens nested maps into dotted names.
fn flatten(map: &Mapping, prefix: &str, out: &mut Vec<(String, Value)>) -> Result<()> {
    for (key, value) in map {
        let name = if prefix.is_empty() { key_string(key)? } else { format!("{prefix}.{}", key_string(key)?) };
        match value {
            Value::Mapping(nested) => flatten(nested, &name, out)?,
            leaf => out.push((name, leaf.clone())),
        }
    }
    Ok(())
}

fn key_string(key: &Value) -> Result<String> {
    match key {
        Value::String(text) => Ok(text.clone()),
        other => Err(params_error(format!("names must be strings, got {other:?}"))),
    }
}

/// The (name, value) leaves of a nested map, depth first, names dotted.
fn dotted_leaves(tree: &Mapping) -> Vec<(String, Value)> {
    let mut leaves = Vec::new();
    // The tree comes from serialising SlamConfig: keys are strings.
    if flatten(tree, "", &mut leaves).is_err() {
        leaves.clear();
    }
    leaves
}

fn to_tree<T: Serialize>(config: &T) -> Result<Mapping> {
    // Through YAML text, so f32 fields keep their shortest decimal form.
    let text = serde_norway::to_string(config).map_err(|e| params_error(e.to_string()))?;
    match serde_norway::from_str(&text) {
        Ok(Value::Mapping(tree)) => Ok(tree),
        Ok(_) => Err(params_error("the parameters did not serialise to a map".into())),
        Err(e) => Err(params_error(e.to_string())),
    }
}

fn default_tree() -> Result<Mapping> {
    to_tree(&SlamConfig::default())
}

/// Replaces the leaf at a dotted name (which [`dotted_leaves`] listed).
fn set_dotted(tree: &mut Mapping, name: &str, value: Value) {
    match name.split_once('.') {
        Some((head, rest)) => {
            if let Some(Value::Mapping(nested)) = tree.get_mut(head) {
                set_dotted(nested, rest, value);
            }
        }
        None => {
            tree.insert(Value::String(name.into()), value);
        }
    }
}

/// A value must have its default's type; integers may stand for floats.
fn check_type(name: &str, default: &Value, value: &Value) -> Result<()> {
    let expected = match default {
        Value::Number(n) if n.is_f64() => "a number",
        Value::Number(_) => "a non-negative integer",
        Value::Bool(_) => "a boolean",
        Value::String(_) => "a string",
        Value::Sequence(_) => "a list of strings",
        _ => "a value",
    };
    let ok = match (default, value) {
        (Value::Number(d), Value::Number(v)) if d.is_f64() => v.as_f64().is_some_and(f64::is_finite),
        (Value::Number(_), Value::Number(v)) => v.is_u64(),
        (Value::Bool(_), Value::Bool(_)) | (Value::String(_), Value::String(_)) => true,
        (Value::Sequence(_), Value::Sequence(items)) => items.iter().all(|item| matches!(item, Value::String(_))),
        _ => false,
    };
    if ok {
        Ok(())
    } else {
        let shown = serde_norway::to_string(value).unwrap_or_default();
        Err(params_error(format!("parameter '{name}' must be {expected}, got {}", shown.trim())))
    }
}

/// The error for an unknown name, listing the closest known names.
fn unknown_parameter(name: &str, known: &[(String, Value)]) -> Error {
    let mut near: Vec<(usize, &str)> = known
        .iter()
        .map(|(k, _)| (edit_distance(name, k), k.as_str()))
        .filter(|&(distance, k)| distance <= (k.len() / 3).max(2) || k.ends_with(&format!(".{name}")))
        .collect();
    near.sort();
    let names: Vec<&str> = near.iter().take(3).map(|&(_, k)| k).collect();
    let hint = if names.is_empty() { String::new() } else { format!(" (did you mean {}?)", names.join(", ")) };
    params_error(format!("unknown parameter '{name}'{hint}"))
}

/// Levenshtein distance (characters).
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut diagonal = row[0];
        row[0] = i + 1;
        for (j, &cb) in b.iter().enumerate() {
            let substitution = diagonal + usize::from(ca != cb);
            diagonal = row[j + 1];
            row[j + 1] = substitution.min(row[j] + 1).min(diagonal + 1);
        }
    }
    row[b.len()]
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // tests may unwrap (STYLE.md: no unwrap outside tests)
mod tests {
    use super::*;

    #[test]
    fn dotted_nested_and_wildcard_names_are_read() {
        let yaml = "/**:\n  ros__parameters:\n    edges.pyramid_levels: 4\n    tracking.max_points: 10\n\
                    other_node:\n  ros__parameters:\n    not.ours: 1\n\
                    /robot/cairn_slam:\n  ros__parameters:\n    tracking:\n      max_points: 2000\n      huber_delta_px: 2\n";
        let config = SlamConfig::from_ros_params(yaml).unwrap();
        assert_eq!(config.edges.pyramid_levels, 4);
        assert_eq!(config.tracking.max_points, 2000, "the later, specific entry wins");
        assert_eq!(config.tracking.huber_delta_px, 2.0, "an integer for a float");
        assert_eq!(config.keyframes, SlamConfig::default().keyframes);
    }

    #[test]
    fn unknown_names_list_near_matches_and_wrong_types_name_the_parameter() {
        let yaml = "cairn_slam:\n  ros__parameters:\n    tracking.max_point: 10\n";
        let err = SlamConfig::from_ros_params(yaml).unwrap_err().to_string();
        assert!(err.contains("'tracking.max_point'") && err.contains("tracking.max_points"), "{err}");
        let yaml = "cairn_slam:\n  ros__parameters:\n    max_points: 10\n";
        let err = SlamConfig::from_ros_params(yaml).unwrap_err().to_string();
        // Both groups that have a max_points are offered.
        assert!(err.contains("did you mean") && err.contains("tracking.max_points"), "{err}");
        assert!(err.contains("window.max_points"), "{err}");
        let yaml = "cairn_slam:\n  ros__parameters:\n    edges.pyramid_levels: 2.5\n";
        let err = SlamConfig::from_ros_params(yaml).unwrap_err().to_string();
        assert!(err.contains("'edges.pyramid_levels' must be a non-negative integer"), "{err}");
        let yaml = "cairn_slam:\n  ros__parameters:\n    tracking.huber_delta_px: wide\n";
        let err = SlamConfig::from_ros_params(yaml).unwrap_err().to_string();
        assert!(err.contains("'tracking.huber_delta_px' must be a number"), "{err}");
        let err = SlamConfig::from_ros_params("edges: {pyramid_levels: 3}\n").unwrap_err().to_string();
        assert!(err.contains("no `cairn_slam:`"), "{err}");
        let yaml = "cairn_slam:\n  ros__parameters:\n    edges.pyramid_levels: 0\n";
        assert!(SlamConfig::from_ros_params(yaml).unwrap_err().to_string().contains("pyramid_levels"));
    }

    #[test]
    fn node_groups_are_left_to_the_node() {
        let yaml = "cairn_slam:\n  ros__parameters:\n    topics.rgb: /rgb\n    frames:\n      map: world\n    edges.pyramid_levels: 2\n";
        let config = SlamConfig::from_ros_params(yaml).unwrap();
        assert_eq!(config.edges.pyramid_levels, 2);
        let given = node_parameters(yaml).unwrap();
        let names: Vec<&str> = given.iter().map(|(name, _)| name.as_str()).collect();
        assert_eq!(names, ["topics.rgb", "frames.map", "edges.pyramid_levels"]);
        assert!(is_node_group("topics.rgb") && !is_node_group("topicsx.rgb") && !is_node_group("tracking.max_points"));
    }

    #[test]
    fn round_trip_is_lossless() {
        let mut config = SlamConfig::default();
        config.edges.gaussian_sigma = 1.3;
        config.tracking.depth_discontinuity = 0.07;
        config.tracking.min_frame_interval_s = 1.0 / 15.0;
        config.keyframes.max_translation_m = 0.123456789;
        for config in [SlamConfig::default(), config] {
            let text = config.to_ros_params().unwrap();
            assert!(text.contains("cairn_slam:\n  ros__parameters:\n    edges.pyramid_levels:"), "{text}");
            assert_eq!(SlamConfig::from_ros_params(&text).unwrap(), config, "{text}");
        }
    }

    #[test]
    fn edit_distance_counts_edits() {
        assert_eq!(edit_distance("kitten", "sitting"), 3);
        assert_eq!(edit_distance("", "abc"), 3);
        assert_eq!(edit_distance("same", "same"), 0);
    }
}
