//! `visualization_msgs`: RViz / Foxglove markers.
//!
//! Humble and Jazzy share the field layout (textures and embedded meshes
//! arrived in Humble); Jazzy added the constant `ARROW_STRIP = 12`, so the
//! `humble` and `jazzy` crate features select the definition text.

use serde::{Deserialize, Serialize};

use super::builtin_interfaces::Duration;
use super::geometry_msgs::{Point, Pose, Vector3};
use super::sensor_msgs::CompressedImage;
use super::std_msgs::{ColorRGBA, Header};

/// `visualization_msgs/msg/UVCoordinate`: a texture coordinate in `[0, 1]`.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
pub struct UVCoordinate {
    /// Horizontal, as a ratio of the texture width.
    pub u: f32,
    /// Vertical, as a ratio of the texture height.
    pub v: f32,
}
ros_message!(UVCoordinate, "visualization_msgs/msg/UVCoordinate", "float32 u\nfloat32 v\n");

/// `visualization_msgs/msg/MeshFile`: a mesh file sent inside a marker.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct MeshFile {
    /// File name (its extension picks the parser).
    pub filename: String,
    /// The file's bytes.
    #[serde(with = "serde_bytes")]
    pub data: Vec<u8>,
}
ros_message!(MeshFile, "visualization_msgs/msg/MeshFile", "string filename\nuint8[] data\n");

/// `visualization_msgs/msg/Marker`: one shape drawn by RViz / Foxglove.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Marker {
    /// Stamp and frame of the pose.
    pub header: Header,
    /// Namespace; with `id` it names the marker.
    pub ns: String,
    /// Id within the namespace.
    pub id: i32,
    /// Shape: [`Self::ARROW`] … [`Self::TRIANGLE_LIST`].
    pub r#type: i32,
    /// [`Self::ADD`], [`Self::DELETE`] or [`Self::DELETEALL`].
    pub action: i32,
    /// Pose in `header.frame_id`.
    pub pose: Pose,
    /// Size (metres; `1, 1, 1` is the default size).
    pub scale: Vector3,
    /// Colour, channels in `[0, 1]`.
    pub color: ColorRGBA,
    /// Time to live (zero: forever).
    pub lifetime: Duration,
    /// Re-transform into `header.frame_id` every frame.
    pub frame_locked: bool,
    /// Points of list and strip types.
    pub points: Vec<Point>,
    /// Per-point colours (empty or one per point).
    pub colors: Vec<ColorRGBA>,
    /// Texture URI (or `embedded://name` to use `texture`).
    pub texture_resource: String,
    /// Embedded texture.
    pub texture: CompressedImage,
    /// Per-vertex texture coordinates.
    pub uv_coordinates: Vec<UVCoordinate>,
    /// Text of `TEXT_VIEW_FACING` markers.
    pub text: String,
    /// Mesh URI of `MESH_RESOURCE` markers (or `embedded://name`).
    pub mesh_resource: String,
    /// Embedded mesh file.
    pub mesh_file: MeshFile,
    /// Use the mesh's own materials.
    pub mesh_use_embedded_materials: bool,
}

/// Constant lines up to `TRIANGLE_LIST`, common to every distribution.
macro_rules! marker_text {
    ($($distro_constants:literal)?) => {
        concat!(
            "int32 ARROW=0\nint32 CUBE=1\nint32 SPHERE=2\nint32 CYLINDER=3\nint32 LINE_STRIP=4\nint32 LINE_LIST=5\n",
            "int32 CUBE_LIST=6\nint32 SPHERE_LIST=7\nint32 POINTS=8\nint32 TEXT_VIEW_FACING=9\nint32 MESH_RESOURCE=10\n",
            "int32 TRIANGLE_LIST=11\n",
            $($distro_constants,)?
            "int32 ADD=0\nint32 MODIFY=0\nint32 DELETE=2\nint32 DELETEALL=3\n",
            "std_msgs/Header header\nstring ns\nint32 id\nint32 type\nint32 action\ngeometry_msgs/Pose pose\n",
            "geometry_msgs/Vector3 scale\nstd_msgs/ColorRGBA color\nbuiltin_interfaces/Duration lifetime\n",
            "bool frame_locked\ngeometry_msgs/Point[] points\nstd_msgs/ColorRGBA[] colors\nstring texture_resource\n",
            "sensor_msgs/CompressedImage texture\nUVCoordinate[] uv_coordinates\nstring text\nstring mesh_resource\n",
            "MeshFile mesh_file\nbool mesh_use_embedded_materials\n"
        )
    };
}

/// The `.msg` text of `visualization_msgs/Marker` in Humble (and Iron).
pub const MARKER_MSG_HUMBLE: &str = marker_text!();
/// The `.msg` text of `visualization_msgs/Marker` in Jazzy (and later).
pub const MARKER_MSG_JAZZY: &str = marker_text!("int32 ARROW_STRIP=12\n");

#[cfg(feature = "humble")]
ros_message!(Marker, "visualization_msgs/msg/Marker", MARKER_MSG_HUMBLE);
#[cfg(not(feature = "humble"))]
ros_message!(Marker, "visualization_msgs/msg/Marker", MARKER_MSG_JAZZY);

impl Marker {
    /// An arrow.
    pub const ARROW: i32 = 0;
    /// A box.
    pub const CUBE: i32 = 1;
    /// A sphere (ellipsoid).
    pub const SPHERE: i32 = 2;
    /// A cylinder.
    pub const CYLINDER: i32 = 3;
    /// A polyline through `points`.
    pub const LINE_STRIP: i32 = 4;
    /// Segments between point pairs.
    pub const LINE_LIST: i32 = 5;
    /// A box per point.
    pub const CUBE_LIST: i32 = 6;
    /// A sphere per point.
    pub const SPHERE_LIST: i32 = 7;
    /// Square points.
    pub const POINTS: i32 = 8;
    /// Text facing the viewer.
    pub const TEXT_VIEW_FACING: i32 = 9;
    /// A mesh from `mesh_resource`.
    pub const MESH_RESOURCE: i32 = 10;
    /// Triangles from point triples.
    pub const TRIANGLE_LIST: i32 = 11;
    /// Arrows along `points` (Jazzy and later).
    #[cfg(not(feature = "humble"))]
    pub const ARROW_STRIP: i32 = 12;
    /// Add or modify.
    pub const ADD: i32 = 0;
    /// Same as [`Self::ADD`].
    pub const MODIFY: i32 = 0;
    /// Delete the marker `ns`/`id`.
    pub const DELETE: i32 = 2;
    /// Delete all markers (of `ns` if given).
    pub const DELETEALL: i32 = 3;
}

/// `visualization_msgs/msg/MarkerArray`: markers published together.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct MarkerArray {
    /// The markers.
    pub markers: Vec<Marker>,
}
ros_message!(MarkerArray, "visualization_msgs/msg/MarkerArray", "Marker[] markers\n");

#[cfg(test)]
mod tests {
    use super::*;
    use crate::msg::RosMessage;

    #[test]
    fn marker_constants_match_the_definition_text() {
        let constants: Vec<(&str, i32)> = Marker::MSG_TEXT
            .lines()
            .filter_map(|l| l.strip_prefix("int32 ")?.split_once('='))
            .filter_map(|(name, value)| Some((name, value.parse().ok()?)))
            .collect();
        assert_eq!(constants.len(), if cfg!(feature = "humble") { 16 } else { 17 });
        assert!(constants.contains(&("TRIANGLE_LIST", Marker::TRIANGLE_LIST)));
        assert!(constants.contains(&("DELETEALL", Marker::DELETEALL)));
    }
}
