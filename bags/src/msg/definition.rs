//! Full `ros2msg` definitions assembled exactly as rosbag2 does
//! (`rosbag2_cpp::LocalMessageDefinitionSource::get_full_text`): the root
//! type's text, then each dependency not seen yet — dependencies of one
//! type in sorted order, recursing depth first — as `"\n"`, 80 `=`,
//! `MSG: package/Type` and the dependency's text.
//!
//! Dependencies are found the way rosbag2 finds them: the first word of
//! each line (array brackets dropped) that is not a primitive type; a bare
//! `Type` belongs to the referring type's package.

use std::collections::{BTreeSet, HashSet};

use super::MESSAGE_TYPES;

/// The line that precedes every dependency's `MSG:` line (80 `=`).
pub const SEPARATOR: &str = "================================================================================\n";

/// Field types that are not messages (rosbag2's `PRIMITIVE_TYPES`).
const PRIMITIVES: [&str; 14] = [
    "bool", "byte", "char", "float32", "float64", "int8", "uint8", "int16", "uint16", "int32", "uint32", "int64",
    "uint64", "string",
];

/// The own `.msg` text of a type this crate defines, by `pkg/msg/Type` or
/// `pkg/Type`; `None` for any other type.
pub fn msg_text(type_name: &str) -> Option<&'static str> {
    let full = normalize(type_name);
    MESSAGE_TYPES.iter().find(|(name, _)| *name == full).map(|(_, text)| *text)
}

/// The full `ros2msg` definition of a type this crate defines (see
/// [`super::RosMessage::definition`]), by `pkg/msg/Type` or `pkg/Type`.
pub fn definition_of(type_name: &str) -> Option<String> {
    let text = msg_text(type_name)?;
    Some(full_definition(type_name, text))
}

/// `pkg/Type` → `pkg/msg/Type`; other names unchanged.
fn normalize(type_name: &str) -> String {
    match type_name.split('/').collect::<Vec<_>>()[..] {
        [package, name] => format!("{package}/msg/{name}"),
        _ => type_name.to_string(),
    }
}

/// The package of `pkg/msg/Type` or `pkg/Type`.
fn package_of(type_name: &str) -> &str {
    type_name.split('/').next().unwrap_or_default()
}

/// Root text plus every dependency, as rosbag2 writes it.
pub(crate) fn full_definition(type_name: &str, text: &str) -> String {
    let mut seen = HashSet::new();
    append_recursive(text, package_of(type_name), &mut seen)
}

fn append_recursive(text: &str, package: &str, seen: &mut HashSet<String>) -> String {
    let mut out = text.to_string();
    for dependency in dependencies(text, package) {
        if seen.insert(dependency.clone()) {
            out.push('\n');
            out.push_str(SEPARATOR);
            out.push_str("MSG: ");
            out.push_str(&dependency);
            out.push('\n');
            // Every dependency of a type defined here is defined here (a
            // unit test checks it), so the empty fallback is never used.
            let dependency_text = msg_text(&dependency).unwrap_or_default();
            out.push_str(&append_recursive(dependency_text, package_of(&dependency), seen));
        }
    }
    out
}

/// Message types a `.msg` text refers to, as `pkg/Type`, sorted.
fn dependencies(text: &str, package: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for line in text.lines() {
        let line = line.trim_start();
        let end = line.find(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == '/')).unwrap_or(line.len());
        let (field_type, rest) = line.split_at(end);
        let rest = match rest.strip_prefix('[') {
            Some(bracketed) => bracketed.split_once(']').map_or("", |(_, after)| after),
            None => rest,
        };
        if field_type.is_empty() || !rest.starts_with(char::is_whitespace) || PRIMITIVES.contains(&field_type) {
            continue;
        }
        if field_type.contains('/') {
            out.insert(field_type.to_string());
        } else {
            out.insert(format!("{package}/{field_type}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::msg::RosMessage;
    use crate::msg::{geometry_msgs, sensor_msgs, std_msgs, visualization_msgs};

    #[test]
    fn every_dependency_is_defined_here() {
        for (name, text) in MESSAGE_TYPES {
            for dependency in dependencies(text, package_of(name)) {
                assert!(msg_text(&dependency).is_some(), "{name} needs {dependency}");
            }
        }
    }

    #[test]
    fn dependencies_resolve_bare_names_and_skip_primitives() {
        let found = dependencies("int32 A=1\nstd_msgs/Header header\nUVCoordinate[] uv\nuint8[] data\n", "viz");
        assert_eq!(found.into_iter().collect::<Vec<_>>(), ["std_msgs/Header", "viz/UVCoordinate"]);
    }

    #[test]
    fn header_definition_matches_rosbag2_layout() {
        let expected = format!(
            "builtin_interfaces/Time stamp\nstring frame_id\n\n{SEPARATOR}MSG: builtin_interfaces/Time\nint32 sec\nuint32 nanosec\n"
        );
        assert_eq!(std_msgs::Header::definition(), expected);
    }

    #[test]
    fn dependencies_appear_once_sorted_depth_first() {
        let definition = geometry_msgs::PoseWithCovarianceStamped::definition();
        let order: Vec<&str> = definition.lines().filter_map(|l| l.strip_prefix("MSG: ")).collect();
        assert_eq!(
            order,
            [
                "geometry_msgs/PoseWithCovariance",
                "geometry_msgs/Pose",
                "geometry_msgs/Point",
                "geometry_msgs/Quaternion",
                "std_msgs/Header",
                "builtin_interfaces/Time"
            ]
        );
    }

    #[test]
    fn marker_definition_names_every_nested_type_once() {
        let definition = visualization_msgs::Marker::definition();
        for dependency in
            ["visualization_msgs/UVCoordinate", "visualization_msgs/MeshFile", "sensor_msgs/CompressedImage"]
        {
            assert_eq!(definition.matches(&format!("MSG: {dependency}\n")).count(), 1, "{dependency}");
        }
        assert_eq!(definition.matches("MSG: std_msgs/Header\n").count(), 1);
    }

    #[test]
    fn lookup_accepts_both_name_forms() {
        assert_eq!(msg_text("sensor_msgs/Image"), Some(sensor_msgs::Image::MSG_TEXT));
        assert_eq!(definition_of("sensor_msgs/msg/Image"), Some(sensor_msgs::Image::definition()));
        assert_eq!(msg_text("sensor_msgs/msg/Nope"), None);
    }
}
