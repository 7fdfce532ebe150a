//! TUM RGB-D dataset folders for rendered sequences. The folder format, its
//! reader ([`TumDataset`], which opens real TUM folders too) and the generic
//! writer live in [`cairn_core::tum`]; this module writes rendered
//! [`RgbdFrame`]s through it.

use std::path::Path;

use cairn_core::Calibration;
use cairn_core::transform::Rigid3;
pub use cairn_core::tum::{MAX_DIFFERENCE, TumDataset, TumFrame, builtin_calibration, resolve_calibration};

use crate::Result;
use crate::render::RgbdFrame;

/// Writes rendered frames as a TUM RGB-D folder (colour, depth and ground
/// truth share each frame's stamp); [`TumWriter::finish`] writes the lists
/// and `groundtruth.txt`.
#[derive(Debug)]
pub struct TumWriter(cairn_core::tum::TumWriter);

impl TumWriter {
    /// Creates the folder (see [`cairn_core::tum::TumWriter::create`]).
    pub fn create(dir: &Path, calibration: &Calibration) -> Result<Self> {
        Ok(TumWriter(cairn_core::tum::TumWriter::create(dir, calibration)?))
    }

    /// Writes one rendered frame and records its pose.
    pub fn write_frame(&mut self, stamp: f64, frame: &RgbdFrame, world_from_camera: &Rigid3) -> Result<()> {
        self.0.write_rgb(stamp, &frame.rgb)?;
        self.0.write_depth(stamp, &frame.depth)?;
        self.0.push_pose(stamp, world_from_camera);
        Ok(())
    }

    /// Writes `rgb.txt`, `depth.txt` and `groundtruth.txt`.
    pub fn finish(self) -> Result<()> {
        Ok(self.0.finish()?)
    }
}
