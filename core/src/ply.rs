//! PLY point clouds (Stanford polygon format), ASCII and binary, as
//! CloudCompare, Open3D and PCL write them.
//!
//! Reading takes the `vertex` element's `x y z` (any scalar type), and
//! `red green blue` and `intensity` when present; other properties and
//! other elements (faces, with list properties) are skipped. Writing gives
//! `binary_little_endian` (or ASCII) with `float x y z`, then `uchar red
//! green blue` and `float intensity` for the channels the cloud has.
//!
//! ```
//! use cairn_core::{PointCloud, ply};
//! use nalgebra::Point3;
//! let mut cloud = PointCloud::default();
//! cloud.push_with(Point3::new(1.0, 2.0, 3.0), None, Some([255, 0, 0]));
//! let bytes = ply::to_bytes(&cloud, ply::Encoding::BinaryLittleEndian);
//! assert_eq!(ply::from_bytes(&bytes, "<memory>")?, cloud);
//! # Ok::<(), cairn_core::Error>(())
//! ```

use std::io::Write;
use std::path::Path;

use nalgebra::Point3;

use crate::cloud::PointCloud;
use crate::{Error, Result};

/// How a PLY body is stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    /// One line of text per element.
    Ascii,
    /// Packed little-endian binary (what Open3D and PCL write).
    BinaryLittleEndian,
    /// Packed big-endian binary.
    BinaryBigEndian,
}

/// A PLY scalar type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Scalar {
    I8,
    U8,
    I16,
    U16,
    I32,
    U32,
    F32,
    F64,
}

impl Scalar {
    fn parse(name: &str) -> Option<Scalar> {
        Some(match name {
            "char" | "int8" => Scalar::I8,
            "uchar" | "uint8" => Scalar::U8,
            "short" | "int16" => Scalar::I16,
            "ushort" | "uint16" => Scalar::U16,
            "int" | "int32" => Scalar::I32,
            "uint" | "uint32" => Scalar::U32,
            "float" | "float32" => Scalar::F32,
            "double" | "float64" => Scalar::F64,
            _ => return None,
        })
    }

    fn size(self) -> usize {
        match self {
            Scalar::I8 | Scalar::U8 => 1,
            Scalar::I16 | Scalar::U16 => 2,
            Scalar::I32 | Scalar::U32 | Scalar::F32 => 4,
            Scalar::F64 => 8,
        }
    }

    /// Decodes one value from exactly `size()` bytes.
    fn decode(self, bytes: &[u8], little: bool) -> f64 {
        macro_rules! num {
            ($t:ty) => {{
                let array = bytes.try_into().unwrap_or_default();
                f64::from(if little { <$t>::from_le_bytes(array) } else { <$t>::from_be_bytes(array) })
            }};
        }
        match self {
            Scalar::I8 => f64::from(bytes[0] as i8),
            Scalar::U8 => f64::from(bytes[0]),
            Scalar::I16 => num!(i16),
            Scalar::U16 => num!(u16),
            Scalar::I32 => num!(i32),
            Scalar::U32 => num!(u32),
            Scalar::F32 => num!(f32),
            Scalar::F64 => num!(f64),
        }
    }
}

/// A property: a scalar, or a list with a count type and an item type.
#[derive(Debug, Clone)]
struct Property {
    name: String,
    kind: Scalar,
    list_count: Option<Scalar>,
}

#[derive(Debug, Clone)]
struct Element {
    name: String,
    count: usize,
    properties: Vec<Property>,
}

/// Reads a PLY file into a [`PointCloud`].
pub fn read(path: impl AsRef<Path>) -> Result<PointCloud> {
    let path = path.as_ref();
    let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
    from_bytes(&bytes, path)
}

/// Writes a cloud as PLY.
pub fn write(path: impl AsRef<Path>, cloud: &PointCloud, encoding: Encoding) -> Result<()> {
    let path = path.as_ref();
    cloud.validate()?;
    std::fs::write(path, to_bytes(cloud, encoding)).map_err(|e| Error::io(path, e))
}

/// Parses PLY bytes; `origin` names them in errors.
pub fn from_bytes(bytes: &[u8], origin: impl AsRef<Path>) -> Result<PointCloud> {
    let origin = origin.as_ref();
    let bad = |line: usize, message: String| Error::Parse { path: origin.to_path_buf(), line, message };
    let (encoding, elements, body_start, header_lines) = parse_header(bytes).map_err(|(l, m)| bad(l, m))?;
    let body = &bytes[body_start..];
    let cloud = match encoding {
        Encoding::Ascii => read_ascii(body, &elements, header_lines),
        Encoding::BinaryLittleEndian => read_binary(body, &elements, true),
        Encoding::BinaryBigEndian => read_binary(body, &elements, false),
    }
    .map_err(|(l, m)| bad(l, m))?;
    cloud.validate().map_err(|e| bad(0, e.to_string()))?;
    Ok(cloud)
}

type HeaderResult = std::result::Result<(Encoding, Vec<Element>, usize, usize), (usize, String)>;

fn parse_header(bytes: &[u8]) -> HeaderResult {
    let mut offset = 0;
    let mut encoding = None;
    let mut elements: Vec<Element> = Vec::new();
    let mut line_no = 0;
    loop {
        line_no += 1;
        let end = bytes[offset..]
            .iter()
            .position(|&b| b == b'\n')
            .ok_or((line_no, "the header has no end_header line (truncated or not a PLY file)".to_string()))?;
        let line = String::from_utf8_lossy(&bytes[offset..offset + end]).trim_end_matches('\r').to_string();
        offset += end + 1;
        let words: Vec<&str> = line.split_whitespace().collect();
        match words.as_slice() {
            ["ply"] if line_no == 1 => {}
            _ if line_no == 1 => return Err((1, "not a PLY file: the first line is not `ply`".into())),
            ["format", kind, _version] => {
                encoding = Some(match *kind {
                    "ascii" => Encoding::Ascii,
                    "binary_little_endian" => Encoding::BinaryLittleEndian,
                    "binary_big_endian" => Encoding::BinaryBigEndian,
                    other => return Err((line_no, format!("unknown PLY format `{other}`"))),
                })
            }
            ["comment", ..] | ["obj_info", ..] | [] => {}
            ["element", name, count] => {
                let count = count.parse().map_err(|_| (line_no, format!("element count `{count}` is not a number")))?;
                elements.push(Element { name: name.to_string(), count, properties: Vec::new() });
            }
            ["property", "list", count_type, item_type, name] => {
                let scalar = |t: &str| Scalar::parse(t).ok_or((line_no, format!("unknown PLY type `{t}`")));
                let (list_count, kind) = (Some(scalar(count_type)?), scalar(item_type)?);
                let element = elements.last_mut().ok_or((line_no, "property before any element".to_string()))?;
                element.properties.push(Property { name: name.to_string(), kind, list_count });
            }
            ["property", kind, name] => {
                let kind = Scalar::parse(kind).ok_or((line_no, format!("unknown PLY type `{kind}`")))?;
                let element = elements.last_mut().ok_or((line_no, "property before any element".to_string()))?;
                element.properties.push(Property { name: name.to_string(), kind, list_count: None });
            }
            ["end_header"] => {
                let encoding = encoding.ok_or((line_no, "the header has no format line".to_string()))?;
                if !elements.iter().any(|e| e.name == "vertex") {
                    return Err((line_no, "no vertex element".into()));
                }
                return Ok((encoding, elements, offset, line_no));
            }
            _ => return Err((line_no, format!("unrecognised header line `{line}`"))),
        }
    }
}

/// Where x, y, z, colour and intensity sit among a vertex's properties.
struct VertexLayout {
    xyz: [usize; 3],
    rgb: Option<[usize; 3]>,
    intensity: Option<usize>,
}

fn vertex_layout(element: &Element) -> std::result::Result<VertexLayout, String> {
    let find = |name: &str| element.properties.iter().position(|p| p.name == name && p.list_count.is_none());
    let xyz = match (find("x"), find("y"), find("z")) {
        (Some(x), Some(y), Some(z)) => [x, y, z],
        _ => return Err("the vertex element lacks scalar x, y and z properties".into()),
    };
    let rgb = match (find("red"), find("green"), find("blue")) {
        (Some(r), Some(g), Some(b)) => Some([r, g, b]),
        _ => None,
    };
    Ok(VertexLayout { xyz, rgb, intensity: find("intensity") })
}

fn push_vertex(cloud: &mut PointCloud, layout: &VertexLayout, values: &[f64]) {
    let p = Point3::new(values[layout.xyz[0]] as f32, values[layout.xyz[1]] as f32, values[layout.xyz[2]] as f32);
    let rgb = layout.rgb.map(|[r, g, b]| [values[r] as u8, values[g] as u8, values[b] as u8]);
    cloud.push_with(p, layout.intensity.map(|i| values[i] as f32), rgb);
}

type BodyResult = std::result::Result<PointCloud, (usize, String)>;

fn read_ascii(body: &[u8], elements: &[Element], header_lines: usize) -> BodyResult {
    let text = std::str::from_utf8(body).map_err(|_| (header_lines + 1, "the ASCII body is not text".to_string()))?;
    let mut lines = text.lines().enumerate().filter(|(_, l)| !l.trim().is_empty());
    let mut cloud = PointCloud::default();
    for element in elements {
        let layout = if element.name == "vertex" { Some(vertex_layout(element).map_err(|m| (0, m))?) } else { None };
        for _ in 0..element.count {
            let (index, line) = lines.next().ok_or((
                header_lines + 1,
                format!("the body ends before the {} {} elements do (truncated file)", element.count, element.name),
            ))?;
            let line_no = header_lines + 1 + index;
            let Some(layout) = &layout else { continue };
            let values: Vec<f64> = line
                .split_whitespace()
                .map(|w| w.parse::<f64>().map_err(|_| (line_no, format!("`{w}` is not a number"))))
                .collect::<std::result::Result<_, _>>()?;
            if values.len() < element.properties.len() {
                return Err((line_no, format!("{} values for {} properties", values.len(), element.properties.len())));
            }
            push_vertex(&mut cloud, layout, &values);
        }
    }
    Ok(cloud)
}

fn read_binary(body: &[u8], elements: &[Element], little: bool) -> BodyResult {
    let truncated = |name: &str| (0, format!("the binary body ends inside the {name} elements (truncated file)"));
    let mut offset = 0;
    let mut cloud = PointCloud::default();
    let mut values = Vec::new();
    for element in elements {
        let layout = if element.name == "vertex" { Some(vertex_layout(element).map_err(|m| (0, m))?) } else { None };
        if layout.is_some() {
            cloud = PointCloud::with_capacity(element.count.min(body.len()));
        }
        for _ in 0..element.count {
            values.clear();
            for property in &element.properties {
                let mut read = |kind: Scalar| -> std::result::Result<f64, (usize, String)> {
                    let bytes = body.get(offset..offset + kind.size()).ok_or_else(|| truncated(&element.name))?;
                    offset += kind.size();
                    Ok(kind.decode(bytes, little))
                };
                match property.list_count {
                    None => values.push(read(property.kind)?),
                    Some(count_kind) => {
                        let count = read(count_kind)?;
                        if !(0.0..=1e7).contains(&count) {
                            return Err((0, format!("list `{}` has an impossible length {count}", property.name)));
                        }
                        for _ in 0..count as usize {
                            read(property.kind)?;
                        }
                        values.push(f64::NAN);
                    }
                }
            }
            if let Some(layout) = &layout {
                push_vertex(&mut cloud, layout, &values);
            }
        }
    }
    Ok(cloud)
}

/// Encodes a cloud as PLY.
pub fn to_bytes(cloud: &PointCloud, encoding: Encoding) -> Vec<u8> {
    let format = match encoding {
        Encoding::Ascii => "ascii",
        Encoding::BinaryLittleEndian => "binary_little_endian",
        Encoding::BinaryBigEndian => "binary_big_endian",
    };
    let mut out = format!("ply\nformat {format} 1.0\ncomment written by cairn\nelement vertex {}\n", cloud.len());
    out.push_str("property float x\nproperty float y\nproperty float z\n");
    if cloud.rgb.is_some() {
        out.push_str("property uchar red\nproperty uchar green\nproperty uchar blue\n");
    }
    if cloud.intensity.is_some() {
        out.push_str("property float intensity\n");
    }
    out.push_str("end_header\n");
    let mut bytes = out.into_bytes();
    for i in 0..cloud.len() {
        let p = cloud.point(i);
        let rgb = cloud.rgb.as_ref().map(|c| c[i]);
        let intensity = cloud.intensity.as_ref().map(|c| c[i]);
        if encoding == Encoding::Ascii {
            let mut line = format!("{} {} {}", p.x, p.y, p.z);
            if let Some([r, g, b]) = rgb {
                line.push_str(&format!(" {r} {g} {b}"));
            }
            if let Some(value) = intensity {
                line.push_str(&format!(" {value}"));
            }
            // Writing into a Vec cannot fail.
            let _ = writeln!(bytes, "{line}");
            continue;
        }
        let float = |v: f32| if encoding == Encoding::BinaryLittleEndian { v.to_le_bytes() } else { v.to_be_bytes() };
        for v in [p.x, p.y, p.z] {
            bytes.extend_from_slice(&float(v));
        }
        if let Some(rgb) = rgb {
            bytes.extend_from_slice(&rgb);
        }
        if let Some(value) = intensity {
            bytes.extend_from_slice(&float(value));
        }
    }
    bytes
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> PointCloud {
        let mut cloud = PointCloud::default();
        cloud.push_with(Point3::new(0.5, -1.25, 3.0), Some(0.25), Some([1, 2, 3]));
        cloud.push_with(Point3::new(-2.0, 0.0, 1e-3), Some(7.0), Some([255, 128, 0]));
        cloud
    }

    #[test]
    fn every_encoding_round_trips() {
        for encoding in [Encoding::Ascii, Encoding::BinaryLittleEndian, Encoding::BinaryBigEndian] {
            let bytes = to_bytes(&sample(), encoding);
            assert_eq!(from_bytes(&bytes, "<memory>").unwrap(), sample(), "{encoding:?}");
        }
    }

    #[test]
    fn cloudcompare_ascii_with_faces_and_doubles_reads() {
        let text = "ply\nformat ascii 1.0\ncomment CloudCompare\nobj_info x\nelement vertex 2\n\
                    property double x\nproperty double y\nproperty double z\nproperty uchar red\n\
                    property uchar green\nproperty uchar blue\nelement face 1\n\
                    property list uchar int vertex_indices\nend_header\n\
                    0.1 0.2 0.3 10 20 30 \n1 2 3 40 50 60\n3 0 1 1\n";
        let cloud = from_bytes(text.as_bytes(), "<memory>").unwrap();
        assert_eq!(cloud.len(), 2);
        assert_eq!(cloud.point(1), Point3::new(1.0, 2.0, 3.0));
        assert_eq!(cloud.rgb.unwrap()[0], [10, 20, 30]);
        assert!(cloud.intensity.is_none());
    }

    #[test]
    fn binary_faces_before_vertices_are_skipped() {
        let mut bytes =
            b"ply\nformat binary_little_endian 1.0\nelement face 1\nproperty list uchar int vertex_indices\n\
                          element vertex 1\nproperty float x\nproperty float y\nproperty float z\nend_header\n"
                .to_vec();
        bytes.push(2);
        bytes.extend_from_slice(&[0u8; 8]);
        for v in [1.0f32, 2.0, 3.0] {
            bytes.extend_from_slice(&v.to_le_bytes());
        }
        let cloud = from_bytes(&bytes, "<memory>").unwrap();
        assert_eq!(cloud.point(0), Point3::new(1.0, 2.0, 3.0));
    }

    #[test]
    fn truncated_and_malformed_files_are_clear_errors() {
        let bytes = to_bytes(&sample(), Encoding::BinaryLittleEndian);
        let message = from_bytes(&bytes[..bytes.len() - 3], "cut.ply").unwrap_err().to_string();
        assert!(message.contains("cut.ply") && message.contains("truncated"), "{message}");
        let ascii = to_bytes(&sample(), Encoding::Ascii);
        let text = String::from_utf8(ascii).unwrap();
        let message = from_bytes(text.replace("-2 ", "oops ").as_bytes(), "bad.ply").unwrap_err().to_string();
        assert!(message.contains("`oops` is not a number"), "{message}");
        assert!(from_bytes(b"solid stl\n", "x.stl").unwrap_err().to_string().contains("not a PLY"));
        let no_end = b"ply\nformat ascii 1.0\nelement vertex 1\n";
        assert!(from_bytes(no_end, "x").unwrap_err().to_string().contains("end_header"));
        let no_xyz = b"ply\nformat ascii 1.0\nelement vertex 1\nproperty float x\nend_header\n1\n";
        assert!(from_bytes(no_xyz, "x").unwrap_err().to_string().contains("x, y and z"));
        let nan = b"ply\nformat ascii 1.0\nelement vertex 1\nproperty float x\nproperty float y\nproperty float z\nend_header\nnan 0 0\n";
        assert!(from_bytes(nan, "x").unwrap_err().to_string().contains("finite"));
    }
}
