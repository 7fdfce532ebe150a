//! [`KeyframeMapper`]: saving a run's keyframes as a map and relocalising a
//! new run against a saved one (`cairn slam --save-map DIR`,
//! `--load-map DIR`), with the loop detector's descriptors and registration.
//!
//! Relocalisation, per new keyframe until it succeeds (thresholds are the
//! `loops.*` group, the same as loop closure):
//! 1. **Describe** the keyframe's cloud as the loop detector does.
//! 2. **Rank** the map's keyframes by their count of mutual-nearest
//!    descriptor matches with it (no pose prior exists yet) and register the
//!    best `max_candidates` (MNN → RANSAC → overlap from
//!    `relocalise_min_overlap` → ICP checks).
//! 3. **Verify**: a wrong relocalisation would move the whole run, so two
//!    accepted registrations against different map keyframes must agree on
//!    `map_from_keyframe` within `gate_sigma` × the consistency floors
//!    (`consistency_floor_m`, `consistency_floor_deg`). The agreeing pair
//!    with the highest overlap wins.
//!
//! The caller ([`crate::Slam`]) then moves everything it has tracked so far
//! into the map's frame.

use cairn_core::transform::Rigid3;
use cairn_perception::describe::{DescribedCloud, LocalDescriptor};
use cairn_perception::l3d::mutual_nearest;

use crate::Result;
use crate::config::LoopConfig;
use crate::graph::PoseGraph;
use crate::loop_detector::{describe_keyframe, register_pair};
use crate::loops::Keyframe;
use crate::map::{MapKeyframe, SavedMap};
use crate::{Error, graph};

/// A successful relocalisation.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Relocalisation {
    /// This run's keyframe that was relocalised.
    pub keyframe: usize,
    /// Its stamp (s).
    pub stamp: f64,
    /// The map keyframe it registered best against.
    pub map_keyframe: usize,
    /// The keyframe's pose in the map's frame.
    pub map_from_keyframe: Rigid3,
    /// Overlap of that registration.
    pub overlap: f64,
    /// RANSAC inliers of that registration.
    pub inliers: usize,
}

/// Records keyframes for a saved map and relocalises against a loaded one
/// (see the module documentation).
#[derive(Debug)]
pub struct KeyframeMapper {
    config: LoopConfig,
    descriptor: Box<dyn LocalDescriptor>,
    map: Option<SavedMap>,
    recording: bool,
    session: Vec<(usize, f64, DescribedCloud)>,
    relocalisation: Option<Relocalisation>,
    attempts: usize,
}

impl KeyframeMapper {
    /// A mapper with the `loops` thresholds and `descriptor`; it neither
    /// records nor relocalises until told to.
    pub fn new(config: LoopConfig, descriptor: Box<dyn LocalDescriptor>) -> Self {
        KeyframeMapper {
            config,
            descriptor,
            map: None,
            recording: false,
            session: Vec::new(),
            relocalisation: None,
            attempts: 0,
        }
    }

    /// Keeps every keyframe's described cloud for [`KeyframeMapper::take_map`].
    pub fn recording(mut self) -> Self {
        self.recording = true;
        self
    }

    /// Relocalises against `map`, which must have been described with the
    /// same descriptor.
    pub fn with_map(mut self, map: SavedMap) -> Result<Self> {
        if map.descriptor != self.descriptor.name() {
            return Err(Error::Map(format!(
                "the map was described with {:?}, this run describes with {:?}: use the same descriptor",
                map.descriptor,
                self.descriptor.name()
            )));
        }
        if map.keyframes.is_empty() {
            return Err(Error::Map("the map has no keyframes to relocalise against".into()));
        }
        self.map = Some(map);
        Ok(self)
    }

    /// The relocalisation, once it has happened.
    pub fn relocalisation(&self) -> Option<&Relocalisation> {
        self.relocalisation.as_ref()
    }

    /// Keyframes tried against the map so far.
    pub fn attempts(&self) -> usize {
        self.attempts
    }

    /// True while a map is loaded and not yet relocalised against.
    pub fn searching(&self) -> bool {
        self.map.is_some() && self.relocalisation.is_none()
    }

    /// Describes a new keyframe, keeps it when recording, and when a map is
    /// loaded and not yet relocalised against, tries to relocalise it.
    pub fn add_keyframe(&mut self, keyframe: &Keyframe<'_>) -> Result<Option<Relocalisation>> {
        if !self.recording && !self.searching() {
            return Ok(None);
        }
        let Some(cloud) = describe_keyframe(&self.config, self.descriptor.as_ref(), keyframe)? else { return Ok(None) };
        let found = match (&self.map, self.relocalisation) {
            (Some(map), None) => {
                self.attempts += 1;
                relocalise(&self.config, map, &cloud).map(|(map_keyframe, map_from_keyframe, overlap, inliers)| {
                    Relocalisation {
                        keyframe: keyframe.id,
                        stamp: keyframe.stamp,
                        map_keyframe,
                        map_from_keyframe,
                        overlap,
                        inliers,
                    }
                })
            }
            _ => None,
        };
        self.relocalisation = self.relocalisation.or(found);
        if self.recording {
            self.session.push((keyframe.id, keyframe.stamp, cloud));
        }
        Ok(found)
    }

    /// The recorded keyframes as a map, posed by `graph` (keyframes the
    /// graph lacks are left out); the recording is emptied.
    pub fn take_map(&mut self, graph: &PoseGraph) -> SavedMap {
        let keyframes = std::mem::take(&mut self.session)
            .into_iter()
            .filter_map(|(id, stamp, cloud)| {
                let world_from_keyframe = graph.world_from_keyframe(id)?;
                Some(MapKeyframe { id, stamp, world_from_keyframe, cloud })
            })
            .collect();
        SavedMap { descriptor: self.descriptor.name().to_string(), keyframes, edges: SavedMap::edges_of(graph) }
    }
}

/// Steps 2–3 of the module documentation: `(map keyframe, map_from_new,
/// overlap, inliers)` of the verified relocalisation, if any.
fn relocalise(c: &LoopConfig, map: &SavedMap, new: &DescribedCloud) -> Option<(usize, Rigid3, f64, usize)> {
    let c = &LoopConfig { min_overlap: c.relocalise_min_overlap, ..c.clone() };
    let mut ranked: Vec<(usize, &MapKeyframe)> = map
        .keyframes
        .iter()
        .filter_map(|k| mutual_nearest(&k.cloud.descriptors, &new.descriptors).ok().map(|m| (m.len(), k)))
        .collect();
    ranked.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.id.cmp(&b.1.id)));
    let accepted: Vec<_> = ranked
        .iter()
        .take(c.max_candidates.max(2))
        .map(|(_, k)| (k, register_pair(c, &k.cloud, k.id, new)))
        .filter(|(_, checked)| checked.failure.is_none())
        .map(|(k, checked)| (k.id, k.world_from_keyframe * checked.to_from_from, checked.overlap, checked.inliers))
        .collect();
    let agree = |a: &Rigid3, b: &Rigid3| {
        let error = graph::twist_of(&(a.inverse() * b));
        error.fixed_rows::<3>(0).norm() <= c.gate_sigma * c.consistency_floor_m
            && error.fixed_rows::<3>(3).norm() <= c.gate_sigma * c.consistency_floor_deg.to_radians()
    };
    accepted
        .iter()
        .filter(|a| accepted.iter().any(|b| b.0 != a.0 && agree(&a.1, &b.1)))
        .max_by(|a, b| a.2.total_cmp(&b.2))
        .copied()
}
