//! TUM RGB-D dataset folders: the reader opens real TUM folders and the
//! folders cairn writes (`cairn sim rgbd`, `cairn bag to-tum`) alike; the
//! writer takes colour frames, depth frames and ground-truth poses as they
//! come (with their own stamps, as in a recorded bag).
//!
//! Layout: `rgb/<stamp>.png`, `depth/<stamp>.png` (16-bit, 5000 per metre),
//! `rgb.txt` and `depth.txt` (`#` comment lines, then `timestamp filename`),
//! `groundtruth.txt` (`timestamp tx ty tz qx qy qz qw`, `world_from_camera`)
//! and, from the writer, `calib.yaml` (the `camera_info` used). Real TUM
//! folders have no calibration file: the reader takes one, else picks
//! fr1/fr2/fr3 from the folder name, else errors.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use crate::transform::Rigid3;
use crate::{Calibration, DepthImage, Error, Result, RgbImage, Trajectory};

/// Largest stamp difference (s) for associating rgb, depth and ground truth
/// (the default of TUM's `associate.py`).
pub const MAX_DIFFERENCE: f64 = 0.02;

/// The built-in TUM calibration `fr1`, `fr2` or `fr3` (copies of calib/).
pub fn builtin_calibration(name: &str) -> Result<Calibration> {
    let text = match name {
        "fr1" => include_str!("../../calib/tum_fr1.yaml"),
        "fr2" => include_str!("../../calib/tum_fr2.yaml"),
        "fr3" => include_str!("../../calib/tum_fr3.yaml"),
        other => return Err(Error::InvalidArgument(format!("no built-in calibration '{other}' (fr1, fr2, fr3)"))),
    };
    Calibration::from_yaml_str(text, format!("<built-in tum_{name}.yaml>"))
}

/// The calibration for dataset folder `dir`: `calib` when given, else
/// `dir/calib.yaml`, else fr1/fr2/fr3 from the folder name (`freiburg1`,
/// `fr1`, …), else an error asking for `--calib`.
pub fn resolve_calibration(dir: &Path, calib: Option<&Path>) -> Result<Calibration> {
    if let Some(path) = calib {
        return Calibration::from_yaml_file(path);
    }
    let in_folder = dir.join("calib.yaml");
    if in_folder.is_file() {
        return Calibration::from_yaml_file(in_folder);
    }
    let name = dir.canonicalize().unwrap_or_else(|_| dir.to_path_buf());
    let name = name.file_name().map(|n| n.to_string_lossy().to_lowercase()).unwrap_or_default();
    for k in ["1", "2", "3"] {
        if name.contains(&format!("freiburg{k}")) || name.contains(&format!("fr{k}")) {
            return builtin_calibration(&format!("fr{k}"));
        }
    }
    Err(Error::Dataset {
        path: dir.to_path_buf(),
        message: "no calib.yaml and the folder name names no TUM camera (freiburg1/fr1 …): pass --calib".into(),
    })
}

/// `{:.6}`, the TUM file-name stamp.
fn stamp_text(stamp: f64) -> String {
    format!("{stamp:.6}")
}

/// Writes a TUM RGB-D folder frame by frame; [`TumWriter::finish`] writes
/// the lists and the ground truth. Colour, depth and poses each carry their
/// own stamps.
#[derive(Debug)]
pub struct TumWriter {
    dir: PathBuf,
    depth_scale: f64,
    rgb_stamps: Vec<f64>,
    depth_stamps: Vec<f64>,
    pose_stamps: Vec<f64>,
    world_from_camera: Vec<Rigid3>,
}

impl TumWriter {
    /// Creates `dir/rgb`, `dir/depth` and `dir/calib.yaml`. A folder that
    /// already holds a sequence (`rgb.txt`) is refused, so nothing is
    /// overwritten.
    pub fn create(dir: &Path, calibration: &Calibration) -> Result<Self> {
        let mut writer = Self::create_uncalibrated(dir)?;
        writer.set_calibration(calibration)?;
        Ok(writer)
    }

    /// Creates `dir/rgb` and `dir/depth` without `calib.yaml` (as real TUM
    /// folders are); depth is written at TUM's 5000 units per metre until
    /// [`TumWriter::set_calibration`] says otherwise.
    pub fn create_uncalibrated(dir: &Path) -> Result<Self> {
        if dir.join("rgb.txt").exists() {
            return Err(Error::Dataset {
                path: dir.to_path_buf(),
                message: "already holds a sequence (rgb.txt); choose an empty folder".into(),
            });
        }
        for sub in ["rgb", "depth"] {
            let path = dir.join(sub);
            std::fs::create_dir_all(&path).map_err(|e| Error::io(path, e))?;
        }
        Ok(TumWriter {
            dir: dir.to_path_buf(),
            depth_scale: crate::calib::DEFAULT_DEPTH_SCALE,
            rgb_stamps: Vec::new(),
            depth_stamps: Vec::new(),
            pose_stamps: Vec::new(),
            world_from_camera: Vec::new(),
        })
    }

    /// Writes `calib.yaml`; depth written from now on uses its depth scale
    /// (set it before the first depth frame).
    pub fn set_calibration(&mut self, calibration: &Calibration) -> Result<()> {
        if !self.depth_stamps.is_empty() && calibration.depth_scale != self.depth_scale {
            return Err(Error::InvalidArgument(format!(
                "depth scale changes from {} to {} after {} depth frames",
                self.depth_scale,
                calibration.depth_scale,
                self.depth_stamps.len()
            )));
        }
        calibration.to_yaml_file(self.dir.join("calib.yaml"))?;
        self.depth_scale = calibration.depth_scale;
        Ok(())
    }

    /// Writes `rgb/<stamp>.png`.
    pub fn write_rgb(&mut self, stamp: f64, rgb: &RgbImage) -> Result<()> {
        rgb.save_png(self.dir.join("rgb").join(format!("{}.png", stamp_text(stamp))))?;
        self.rgb_stamps.push(stamp);
        Ok(())
    }

    /// Writes `depth/<stamp>.png` (16-bit, the calibration's depth scale).
    pub fn write_depth(&mut self, stamp: f64, depth: &DepthImage) -> Result<()> {
        depth.save_png(self.dir.join("depth").join(format!("{}.png", stamp_text(stamp))), self.depth_scale)?;
        self.depth_stamps.push(stamp);
        Ok(())
    }

    /// Records a ground-truth pose (`world_from_camera`) for `groundtruth.txt`.
    pub fn push_pose(&mut self, stamp: f64, world_from_camera: &Rigid3) {
        self.pose_stamps.push(stamp);
        self.world_from_camera.push(*world_from_camera);
    }

    /// Frames written so far: (colour, depth, poses).
    pub fn counts(&self) -> (usize, usize, usize) {
        (self.rgb_stamps.len(), self.depth_stamps.len(), self.pose_stamps.len())
    }

    /// Writes `rgb.txt`, `depth.txt` and, when poses were pushed,
    /// `groundtruth.txt`.
    pub fn finish(self) -> Result<()> {
        for (list, what, stamps) in
            [("rgb", "color images", &self.rgb_stamps), ("depth", "depth maps", &self.depth_stamps)]
        {
            let mut text = format!("# {what}\n# file: 'cairn'\n# timestamp filename\n");
            for &stamp in stamps {
                let s = stamp_text(stamp);
                let _ = writeln!(text, "{s} {list}/{s}.png");
            }
            let path = self.dir.join(format!("{list}.txt"));
            std::fs::write(&path, text).map_err(|e| Error::io(path, e))?;
        }
        if self.pose_stamps.is_empty() {
            return Ok(());
        }
        let trajectory = Trajectory::with_stamps("groundtruth", self.pose_stamps, self.world_from_camera)?;
        let text = format!(
            "# ground truth trajectory\n# file: 'cairn'\n# timestamp tx ty tz qx qy qz qw\n{}",
            trajectory.to_tum_string()?
        );
        let path = self.dir.join("groundtruth.txt");
        std::fs::write(&path, text).map_err(|e| Error::io(path, e))
    }
}

/// One associated frame of a TUM folder.
#[derive(Debug, Clone, PartialEq)]
pub struct TumFrame {
    /// The colour image's stamp (s).
    pub stamp: f64,
    /// The colour image file.
    pub rgb: PathBuf,
    /// The depth image's stamp (s).
    pub depth_stamp: f64,
    /// The depth image file.
    pub depth: PathBuf,
    /// Ground truth at the nearest stamp within [`MAX_DIFFERENCE`], if any.
    pub world_from_camera: Option<Rigid3>,
}

/// A TUM RGB-D folder, opened.
#[derive(Debug, Clone)]
pub struct TumDataset {
    /// The folder.
    pub dir: PathBuf,
    /// Its calibration (see [`resolve_calibration`]).
    pub calibration: Calibration,
    /// Colour frames with a depth frame within [`MAX_DIFFERENCE`].
    pub frames: Vec<TumFrame>,
}

impl TumDataset {
    /// Opens `dir`, associating each colour image with the nearest depth
    /// image and ground-truth pose.
    pub fn open(dir: &Path, calib: Option<&Path>) -> Result<Self> {
        let calibration = resolve_calibration(dir, calib)?;
        let rgb = read_list(dir, "rgb.txt")?;
        let depth = read_list(dir, "depth.txt")?;
        let gt_path = dir.join("groundtruth.txt");
        let groundtruth = if gt_path.is_file() { Some(Trajectory::read(&gt_path, Default::default())?) } else { None };
        let depth_stamps: Vec<f64> = depth.iter().map(|(s, _)| *s).collect();
        let mut frames = Vec::with_capacity(rgb.len());
        for (stamp, file) in rgb {
            let Some(j) = nearest(&depth_stamps, stamp) else { continue };
            let world_from_camera = groundtruth.as_ref().and_then(|gt| {
                let stamps = gt.stamps.as_deref().unwrap_or(&[]);
                nearest(stamps, stamp).map(|k| gt.world_from_body[k])
            });
            frames.push(TumFrame {
                stamp,
                rgb: dir.join(file),
                depth_stamp: depth[j].0,
                depth: dir.join(&depth[j].1),
                world_from_camera,
            });
        }
        Ok(TumDataset { dir: dir.to_path_buf(), calibration, frames })
    }

    /// The colour image of frame `index`.
    pub fn load_rgb(&self, index: usize) -> Result<RgbImage> {
        RgbImage::load(&self.frame(index)?.rgb)
    }

    /// The depth image of frame `index`, in metres.
    pub fn load_depth(&self, index: usize) -> Result<DepthImage> {
        DepthImage::load_png(&self.frame(index)?.depth, self.calibration.depth_scale)
    }

    fn frame(&self, index: usize) -> Result<&TumFrame> {
        self.frames.get(index).ok_or_else(|| Error::InvalidArgument(format!("frame {index} of {}", self.frames.len())))
    }
}

/// Index of the stamp nearest to `t` within [`MAX_DIFFERENCE`] (`stamps`
/// sorted), as TUM's `associate.py` pairs colour, depth and ground truth.
pub fn nearest(stamps: &[f64], t: f64) -> Option<usize> {
    let i = stamps.partition_point(|&s| s < t);
    let candidates = [i.checked_sub(1), (i < stamps.len()).then_some(i)];
    candidates
        .into_iter()
        .flatten()
        .min_by(|&a, &b| (stamps[a] - t).abs().total_cmp(&(stamps[b] - t).abs()))
        .filter(|&k| (stamps[k] - t).abs() <= MAX_DIFFERENCE)
}

/// `(stamp, file)` lines of a TUM list (`rgb.txt`, `depth.txt`) in folder
/// `dir`, sorted by stamp; files are relative to `dir`.
pub fn read_list(dir: &Path, name: &str) -> Result<Vec<(f64, String)>> {
    let path = dir.join(name);
    let text = std::fs::read_to_string(&path).map_err(|e| Error::io(&path, e))?;
    let mut entries = Vec::new();
    for (k, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let mut fields = line.split_whitespace();
        let parsed = fields.next().and_then(|s| s.parse::<f64>().ok()).zip(fields.next());
        let (stamp, file) = parsed.ok_or_else(|| Error::Dataset {
            path: path.clone(),
            message: format!("line {}: expected 'timestamp filename'", k + 1),
        })?;
        entries.push((stamp, file.to_owned()));
    }
    entries.sort_by(|a, b| a.0.total_cmp(&b.0));
    Ok(entries)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_stamp_within_tolerance() {
        let stamps = [1.0, 1.1, 1.2];
        assert_eq!(nearest(&stamps, 1.01), Some(0));
        assert_eq!(nearest(&stamps, 1.09), Some(1));
        assert_eq!(nearest(&stamps, 1.05), None);
        assert_eq!(nearest(&stamps, 1.21), Some(2));
        assert_eq!(nearest(&[], 1.0), None);
    }

    #[test]
    fn calibration_from_folder_name() {
        let dir =
            std::env::temp_dir().join(format!("cairn-core-tum-rgbd_dataset_freiburg2_desk-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        assert_eq!(resolve_calibration(&dir, None).unwrap().camera().fx, 520.9);
        let other = std::env::temp_dir().join(format!("cairn-core-tum-unnamed-{}", std::process::id()));
        std::fs::create_dir_all(&other).unwrap();
        let message = resolve_calibration(&other, None).unwrap_err().to_string();
        assert!(message.contains("--calib"), "{message}");
        std::fs::remove_dir_all(dir).unwrap();
        std::fs::remove_dir_all(other).unwrap();
    }

    #[test]
    fn writer_refuses_a_folder_with_a_sequence() {
        let dir = std::env::temp_dir().join(format!("cairn-core-tum-refuse-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let calibration = builtin_calibration("fr1").unwrap();
        TumWriter::create(&dir, &calibration).unwrap().finish().unwrap();
        let message = TumWriter::create(&dir, &calibration).unwrap_err().to_string();
        assert!(message.contains("already holds a sequence"), "{message}");
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn builtin_calibrations_parse() {
        assert_eq!(builtin_calibration("fr1").unwrap().camera().fx, 517.3);
        assert_eq!(builtin_calibration("fr3").unwrap().camera().fx, 535.4);
        assert!(builtin_calibration("fr4").is_err());
    }
}
