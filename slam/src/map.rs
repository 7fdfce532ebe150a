//! Saved maps (`cairn slam --save-map DIR`, `--load-map DIR`): the
//! keyframes of a run with their final poses, their described clouds (the
//! loop detector's points, normals, keypoints and descriptors) and the pose
//! graph's edges.
//!
//! A map folder holds `map.json` (format, descriptor, keyframes with stamps
//! and `world_from_keyframe`, graph edges) and `keyframes.safetensors`
//! (`"{id}.points"` `[n, 3]`, `"{id}.normals"` `[n, 3]` with NaN for a point
//! without a normal, `"{id}.keypoints"` `[k]` u32, `"{id}.descriptors"`
//! `[k, d]`). Writes go to a temporary folder renamed into place, so a run
//! killed while saving leaves no half map; reading checks every piece and
//! says what is wrong.

use std::collections::HashMap;
use std::path::Path;

use cairn_core::samples::{rigid_from_rows, rows_from_rigid};
use cairn_core::transform::Rigid3;
use cairn_perception::describe::DescribedCloud;
use cairn_perception::l3d::{Descriptors, Neighbours};
use candle_core::{DType, Device, Tensor};
use nalgebra::{Point3, Vector3};
use serde::{Deserialize, Serialize};

use crate::graph::{EdgeKind, PoseGraph};
use crate::{Error, Result};

/// The format tag of `map.json`.
pub const FORMAT: &str = "cairn-map 1";
/// The index file of a map folder.
pub const INDEX_FILE: &str = "map.json";
/// The described clouds of a map folder.
pub const CLOUDS_FILE: &str = "keyframes.safetensors";

/// One keyframe of a map.
#[derive(Debug)]
pub struct MapKeyframe {
    /// Keyframe id (as in the run that saved it).
    pub id: usize,
    /// Stamp of its frame (s).
    pub stamp: f64,
    /// Its pose in the map's frame.
    pub world_from_keyframe: Rigid3,
    /// Its described cloud (camera frame).
    pub cloud: DescribedCloud,
}

/// A graph edge as saved (for inspection; relocalisation uses keyframes).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MapEdge {
    /// Source keyframe id.
    pub from: usize,
    /// Target keyframe id.
    pub to: usize,
    /// `odometry`, `restart` or `loop`.
    pub kind: String,
    /// The measured `to_from_from`, row-major 4×4.
    pub to_from_from: [[f64; 4]; 4],
}

/// A saved map.
#[derive(Debug)]
pub struct SavedMap {
    /// The descriptor its clouds were described with (`fpfh`, `l3d`).
    pub descriptor: String,
    /// Keyframes in id order.
    pub keyframes: Vec<MapKeyframe>,
    /// The pose graph's edges.
    pub edges: Vec<MapEdge>,
}

#[derive(Debug, Serialize, Deserialize)]
struct Index {
    format: String,
    descriptor: String,
    keyframes: Vec<IndexKeyframe>,
    edges: Vec<MapEdge>,
}

#[derive(Debug, Serialize, Deserialize)]
struct IndexKeyframe {
    id: usize,
    stamp: f64,
    world_from_keyframe: [[f64; 4]; 4],
}

fn rigid(rows: &[[f64; 4]; 4], what: &str) -> Result<Rigid3> {
    rigid_from_rows(rows, what).map_err(|e| Error::Map(e.to_string()))
}

fn kind_name(kind: &EdgeKind) -> &'static str {
    match kind {
        EdgeKind::Odometry => "odometry",
        EdgeKind::Restart => "restart",
        EdgeKind::Loop { .. } => "loop",
    }
}

impl SavedMap {
    /// Writes the map to `dir` (created; replaced atomically if it exists).
    pub fn write(&self, dir: &Path) -> Result<()> {
        let io = |e: std::io::Error, path: &Path| Error::Map(format!("{}: {e}", path.display()));
        let staging = dir.with_extension("saving");
        if staging.exists() {
            std::fs::remove_dir_all(&staging).map_err(|e| io(e, &staging))?;
        }
        std::fs::create_dir_all(&staging).map_err(|e| io(e, &staging))?;
        let index = Index {
            format: FORMAT.into(),
            descriptor: self.descriptor.clone(),
            keyframes: self
                .keyframes
                .iter()
                .map(|k| IndexKeyframe {
                    id: k.id,
                    stamp: k.stamp,
                    world_from_keyframe: rows_from_rigid(&k.world_from_keyframe),
                })
                .collect(),
            edges: self.edges.clone(),
        };
        let json = serde_json::to_string_pretty(&index).map_err(|e| Error::Map(format!("{e}")))?;
        std::fs::write(staging.join(INDEX_FILE), json).map_err(|e| io(e, &staging))?;
        let mut tensors = HashMap::new();
        for keyframe in &self.keyframes {
            for (name, tensor) in cloud_tensors(&keyframe.cloud)? {
                tensors.insert(format!("{}.{name}", keyframe.id), tensor);
            }
        }
        candle_core::safetensors::save(&tensors, staging.join(CLOUDS_FILE))?;
        if dir.exists() {
            std::fs::remove_dir_all(dir).map_err(|e| io(e, dir))?;
        }
        std::fs::rename(&staging, dir).map_err(|e| io(e, dir))
    }

    /// Reads a map folder written by [`SavedMap::write`].
    pub fn read(dir: &Path) -> Result<SavedMap> {
        let index_path = dir.join(INDEX_FILE);
        let text = std::fs::read_to_string(&index_path).map_err(|e| {
            Error::Map(format!("{}: {e} (is {} a folder written by --save-map?)", index_path.display(), dir.display()))
        })?;
        let index: Index = serde_json::from_str(&text)
            .map_err(|e| Error::Map(format!("{}: not a cairn map index: {e}", index_path.display())))?;
        if index.format != FORMAT {
            return Err(Error::Map(format!("format {:?}, this cairn reads {FORMAT:?}", index.format)));
        }
        let clouds_path = dir.join(CLOUDS_FILE);
        let mut tensors = candle_core::safetensors::load(&clouds_path, &Device::Cpu)
            .map_err(|e| Error::Map(format!("{}: {e}", clouds_path.display())))?;
        let mut keyframes = Vec::with_capacity(index.keyframes.len());
        for k in &index.keyframes {
            let mut take = |name: &str| {
                tensors
                    .remove(&format!("{}.{name}", k.id))
                    .ok_or_else(|| Error::Map(format!("keyframe {} has no {name}", k.id)))
            };
            let parts = [take("points")?, take("normals")?, take("keypoints")?, take("descriptors")?];
            let cloud = cloud_from_tensors(parts).map_err(|e| Error::Map(format!("keyframe {}: {e}", k.id)))?;
            let world_from_keyframe = rigid(&k.world_from_keyframe, &format!("keyframe {} pose", k.id))?;
            keyframes.push(MapKeyframe { id: k.id, stamp: k.stamp, world_from_keyframe, cloud });
        }
        Ok(SavedMap { descriptor: index.descriptor, keyframes, edges: index.edges })
    }

    /// The edges of `graph`, as saved.
    pub fn edges_of(graph: &PoseGraph) -> Vec<MapEdge> {
        graph
            .edges()
            .iter()
            .map(|e| MapEdge {
                from: e.from,
                to: e.to,
                kind: kind_name(&e.kind).into(),
                to_from_from: rows_from_rigid(&e.to_from_from),
            })
            .collect()
    }
}

/// The four tensors of a described cloud.
fn cloud_tensors(cloud: &DescribedCloud) -> Result<Vec<(&'static str, Tensor)>> {
    let points = cloud.cloud.points();
    let n = points.len();
    let flat: Vec<f32> = points.iter().flat_map(|p| [p.x, p.y, p.z]).collect();
    let normals: Vec<f32> = cloud
        .normals
        .iter()
        .flat_map(|normal| normal.map_or([f32::NAN; 3], |v| [v.x as f32, v.y as f32, v.z as f32]))
        .collect();
    let keypoints: Vec<u32> = cloud.keypoints.iter().map(|&k| k as u32).collect();
    let d = cloud.descriptors.dim();
    let descriptors: Vec<f32> = (0..cloud.descriptors.len()).flat_map(|i| cloud.descriptors.get(i).to_vec()).collect();
    Ok(vec![
        ("points", Tensor::from_vec(flat, (n, 3), &Device::Cpu)?),
        ("normals", Tensor::from_vec(normals, (n, 3), &Device::Cpu)?),
        ("keypoints", Tensor::from_vec(keypoints, cloud.keypoints.len(), &Device::Cpu)?),
        ("descriptors", Tensor::from_vec(descriptors, (cloud.descriptors.len(), d), &Device::Cpu)?),
    ])
}

/// A described cloud from its four tensors, every size and index checked.
fn cloud_from_tensors([points, normals, keypoints, descriptors]: [Tensor; 4]) -> Result<DescribedCloud> {
    let bad = |what: &str| Error::Map(what.to_string());
    let (n, three) = points.dims2()?;
    if three != 3 || normals.dims2()? != (n, 3) {
        return Err(bad("points and normals must both be [n, 3]"));
    }
    let (k, d) = descriptors.dims2()?;
    if keypoints.dims1()? != k || keypoints.dtype() != DType::U32 {
        return Err(bad("keypoints must be u32, one per descriptor row"));
    }
    let points: Vec<Point3<f32>> =
        points.to_dtype(DType::F32)?.to_vec2::<f32>()?.into_iter().map(|p| Point3::new(p[0], p[1], p[2])).collect();
    if points.iter().any(|p| !p.coords.iter().all(|v| v.is_finite())) {
        return Err(bad("a point is not finite"));
    }
    let normals = normals
        .to_dtype(DType::F32)?
        .to_vec2::<f32>()?
        .into_iter()
        .map(|v| {
            v.iter().all(|x| x.is_finite()).then(|| Vector3::new(f64::from(v[0]), f64::from(v[1]), f64::from(v[2])))
        })
        .collect();
    let keypoints: Vec<usize> = keypoints.to_vec1::<u32>()?.into_iter().map(|i| i as usize).collect();
    if keypoints.iter().any(|&i| i >= n) {
        return Err(bad("a keypoint index is past the points"));
    }
    let descriptors = Descriptors::new(d, descriptors.to_dtype(DType::F32)?.flatten_all()?.to_vec1::<f32>()?)
        .map_err(|e| Error::Map(e.to_string()))?;
    let cloud = Neighbours::new(points).map_err(|e| Error::Map(e.to_string()))?;
    Ok(DescribedCloud { cloud, normals, keypoints, descriptors })
}
