//! Trajectories: timestamps plus `world_from_body` poses, read and written in
//! the TUM and KITTI text formats.
//!
//! - TUM: one pose per line, `timestamp tx ty tz qx qy qz qw`; `#` starts a
//!   comment line; numbers may use scientific notation.
//! - KITTI: one pose per line, the first three rows of the 4×4 matrix,
//!   row-major (12 numbers); no timestamps.
//!
//! A malformed line is an [`Error::Parse`] naming the file and the line.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use nalgebra::{Matrix3, Vector3};

use crate::transform::{Rigid3, rigid_from_matrix, rigid_from_translation_quat};
use crate::{Error, Result};

/// The text formats a trajectory can be stored in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TrajectoryFormat {
    /// `timestamp tx ty tz qx qy qz qw` per line.
    #[default]
    Tum,
    /// 12 numbers per line: the 3×4 `[R | t]` matrix, row-major.
    Kitti,
}

/// A sequence of poses, optionally timestamped (TUM has stamps, KITTI not).
#[derive(Debug, Clone, PartialEq)]
pub struct Trajectory {
    /// Where the trajectory came from (a file path or a label), for messages.
    pub name: String,
    /// Seconds, one per pose; `None` for formats without time (KITTI).
    pub stamps: Option<Vec<f64>>,
    /// The pose of the moving body in the world frame, one per entry.
    pub world_from_body: Vec<Rigid3>,
}

impl Trajectory {
    /// A timestamped trajectory. Errors if the lengths differ.
    pub fn with_stamps(name: impl Into<String>, stamps: Vec<f64>, world_from_body: Vec<Rigid3>) -> Result<Self> {
        if stamps.len() != world_from_body.len() {
            return Err(Error::InvalidArgument(format!("{} stamps for {} poses", stamps.len(), world_from_body.len())));
        }
        Ok(Self { name: name.into(), stamps: Some(stamps), world_from_body })
    }

    /// Number of poses.
    pub fn len(&self) -> usize {
        self.world_from_body.len()
    }

    /// True when there is no pose.
    pub fn is_empty(&self) -> bool {
        self.world_from_body.is_empty()
    }

    /// Positions of the body in the world frame.
    pub fn positions(&self) -> impl Iterator<Item = Vector3<f64>> + '_ {
        self.world_from_body.iter().map(|p| p.translation.vector)
    }

    /// Keeps only the poses (and stamps) at `ids`, in that order.
    pub fn select(&self, ids: &[usize]) -> Self {
        Self {
            name: self.name.clone(),
            stamps: self.stamps.as_ref().map(|s| ids.iter().map(|&i| s[i]).collect()),
            world_from_body: ids.iter().map(|&i| self.world_from_body[i]).collect(),
        }
    }

    /// Reads a trajectory file in the given format.
    pub fn read(path: &Path, format: TrajectoryFormat) -> Result<Self> {
        let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
        let name = path.display().to_string();
        match format {
            TrajectoryFormat::Tum => Self::parse_tum(&text, &name),
            TrajectoryFormat::Kitti => Self::parse_kitti(&text, &name),
        }
    }

    /// Writes the trajectory in the given format (full `f64` precision).
    pub fn write(&self, path: &Path, format: TrajectoryFormat) -> Result<()> {
        let text = match format {
            TrajectoryFormat::Tum => self.to_tum_string()?,
            TrajectoryFormat::Kitti => self.to_kitti_string(),
        };
        std::fs::write(path, text).map_err(|e| Error::io(path, e))
    }

    /// Parses TUM text; `name` labels the source in errors.
    pub fn parse_tum(text: &str, name: &str) -> Result<Self> {
        let mut stamps = Vec::new();
        let mut poses = Vec::new();
        for (line_no, values) in numeric_lines(text, name, 8)? {
            let pose = rigid_from_translation_quat(
                [values[1], values[2], values[3]],
                [values[4], values[5], values[6], values[7]],
            )
            .map_err(|e| parse_error(name, line_no, e.to_string()))?;
            stamps.push(values[0]);
            poses.push(pose);
        }
        if poses.is_empty() {
            return Err(parse_error(name, 0, "no poses in TUM file".into()));
        }
        Self::with_stamps(name, stamps, poses)
    }

    /// Parses KITTI text; `name` labels the source in errors.
    pub fn parse_kitti(text: &str, name: &str) -> Result<Self> {
        let mut poses = Vec::new();
        for (line_no, v) in numeric_lines(text, name, 12)? {
            let rotation = Matrix3::new(v[0], v[1], v[2], v[4], v[5], v[6], v[8], v[9], v[10]);
            let pose = rigid_from_matrix(&rotation, Vector3::new(v[3], v[7], v[11]))
                .map_err(|e| parse_error(name, line_no, e.to_string()))?;
            poses.push(pose);
        }
        if poses.is_empty() {
            return Err(parse_error(name, 0, "no poses in KITTI file".into()));
        }
        Ok(Self { name: name.to_owned(), stamps: None, world_from_body: poses })
    }

    /// TUM text, one pose per line. Errors if the trajectory has no stamps.
    pub fn to_tum_string(&self) -> Result<String> {
        let stamps = self
            .stamps
            .as_ref()
            .ok_or_else(|| Error::InvalidArgument(format!("{}: TUM format needs timestamps", self.name)))?;
        let mut out = String::with_capacity(self.len() * 120);
        for (stamp, pose) in stamps.iter().zip(&self.world_from_body) {
            let t = pose.translation.vector;
            let q = pose.rotation.quaternion();
            // `{}` prints the shortest text that parses back to the same f64.
            let _ = writeln!(out, "{stamp} {} {} {} {} {} {} {}", t.x, t.y, t.z, q.i, q.j, q.k, q.w);
        }
        Ok(out)
    }

    /// KITTI text, one 3×4 row-major matrix per line.
    pub fn to_kitti_string(&self) -> String {
        let mut out = String::with_capacity(self.len() * 250);
        for pose in &self.world_from_body {
            let m = pose.to_homogeneous();
            let row = |r: usize| format!("{} {} {} {}", m[(r, 0)], m[(r, 1)], m[(r, 2)], m[(r, 3)]);
            let _ = writeln!(out, "{} {} {}", row(0), row(1), row(2));
        }
        out
    }
}

fn parse_error(name: &str, line: usize, message: String) -> Error {
    Error::Parse { path: PathBuf::from(name), line, message }
}

/// The non-comment, non-blank lines of `text` as `expected` finite numbers
/// each, with their 1-based line numbers.
fn numeric_lines(text: &str, name: &str, expected: usize) -> Result<Vec<(usize, Vec<f64>)>> {
    let mut rows = Vec::new();
    for (index, raw) in text.lines().enumerate() {
        let line_no = index + 1;
        let line = raw.trim().trim_start_matches('\u{feff}');
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let fields: Vec<&str> = line.split(|c: char| c.is_whitespace() || c == ',').filter(|f| !f.is_empty()).collect();
        if fields.len() != expected {
            return Err(parse_error(
                name,
                line_no,
                format!("expected {expected} numbers, found {}: {line:?}", fields.len()),
            ));
        }
        let mut values = Vec::with_capacity(expected);
        for field in fields {
            match field.parse::<f64>() {
                Ok(v) if v.is_finite() => values.push(v),
                _ => {
                    return Err(parse_error(name, line_no, format!("not a finite number: {field:?}")));
                }
            }
        }
        rows.push((line_no, values));
    }
    Ok(rows)
}

#[cfg(test)]
mod tests {
    use super::*;
    use approx::assert_relative_eq;

    const TUM: &str = "# ground truth\n# timestamp tx ty tz qx qy qz qw\n\
        1305031102.1753 1.3405 0.6266 1.6575 0.6574 0.6126 -0.2949 -0.3248\n\
        \n1.305031102211e9 1.3303 6.256e-1 1.6464 0.6579 0.6161 -0.2932 -0.3189\n";

    #[test]
    fn tum_parses_comments_blank_lines_and_scientific_notation() {
        let traj = Trajectory::parse_tum(TUM, "mem").unwrap();
        assert_eq!(traj.len(), 2);
        let stamps = traj.stamps.as_ref().unwrap();
        assert_relative_eq!(stamps[1], 1305031102.211, epsilon = 1e-6);
        assert_relative_eq!(traj.world_from_body[1].translation.y, 0.6256);
        assert_relative_eq!(traj.world_from_body[0].rotation.quaternion().norm(), 1.0, epsilon = 1e-15);
    }

    #[test]
    fn tum_round_trip_is_exact() {
        let traj = Trajectory::parse_tum(TUM, "mem").unwrap();
        let again = Trajectory::parse_tum(&traj.to_tum_string().unwrap(), "mem").unwrap();
        assert_eq!(traj.stamps, again.stamps);
        for (a, b) in traj.world_from_body.iter().zip(&again.world_from_body) {
            assert_eq!(a.translation, b.translation);
            assert_relative_eq!(a.rotation.angle_to(&b.rotation), 0.0, epsilon = 1e-15);
        }
    }

    #[test]
    fn malformed_tum_line_names_file_and_line() {
        let bad = "# c\n0 0 0 0 0 0 0 1\n1 0 0 0 0 0 1\n";
        let err = Trajectory::parse_tum(bad, "est.txt").unwrap_err().to_string();
        assert!(err.starts_with("est.txt:3:"), "{err}");
        assert!(err.contains("expected 8 numbers, found 7"), "{err}");
        let err = Trajectory::parse_tum("0 0 0 x 0 0 0 1\n", "a.txt").unwrap_err().to_string();
        assert!(err.starts_with("a.txt:1:") && err.contains("\"x\""), "{err}");
        let err = Trajectory::parse_tum("0 0 0 nan 0 0 0 1\n", "a.txt").unwrap_err().to_string();
        assert!(err.contains("not a finite number"), "{err}");
        let err = Trajectory::parse_tum("0 0 0 0 0 0 0 0\n", "z.txt").unwrap_err().to_string();
        assert!(err.starts_with("z.txt:1:") && err.contains("zero quaternion"), "{err}");
        assert!(Trajectory::parse_tum("# only comments\n", "e.txt").is_err());
    }

    #[test]
    fn kitti_round_trip_and_errors() {
        let text = "1 0 0 0.5 0 1 0 -1e-1 0 0 1 2\n0 -1 0 1 1 0 0 2 0 0 1 3\n";
        let traj = Trajectory::parse_kitti(text, "k.txt").unwrap();
        assert!(traj.stamps.is_none());
        assert_relative_eq!(traj.world_from_body[0].translation.y, -0.1);
        assert_relative_eq!(traj.world_from_body[1].rotation.angle(), std::f64::consts::FRAC_PI_2, epsilon = 1e-12);
        let again = Trajectory::parse_kitti(&traj.to_kitti_string(), "k").unwrap();
        assert_eq!(traj.world_from_body[0].translation, again.world_from_body[0].translation);
        let err = Trajectory::parse_kitti("1 0 0 0 0 1 0 0 0 0 1\n", "k.txt").unwrap_err().to_string();
        assert!(err.starts_with("k.txt:1:") && err.contains("expected 12"), "{err}");
        let err = Trajectory::parse_kitti("2 0 0 0 0 1 0 0 0 0 1 0\n", "k.txt").unwrap_err().to_string();
        assert!(err.contains("not a rotation"), "{err}");
        assert!(traj.to_tum_string().is_err());
    }

    #[test]
    fn select_keeps_stamps_and_poses_together() {
        let traj = Trajectory::parse_tum(TUM, "mem").unwrap();
        let one = traj.select(&[1]);
        assert_eq!(one.len(), 1);
        assert_eq!(one.stamps.unwrap()[0], traj.stamps.as_ref().unwrap()[1]);
    }

    #[test]
    fn missing_file_is_an_io_error_naming_it() {
        let err = Trajectory::read(Path::new("/nonexistent/gt.txt"), TrajectoryFormat::Tum).unwrap_err();
        assert!(err.to_string().starts_with("/nonexistent/gt.txt:"), "{err}");
    }
}
