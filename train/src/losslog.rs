//! The loss log of a training job: one CSV row per step
//! (`step,loss,lr,wall_s`, flushed as it goes, so a killed job keeps its
//! log) and a PNG loss curve next to it (`run.csv` → `run.png`).
//!
//! ```no_run
//! use cairn_train::losslog::LossLog;
//! let mut log = LossLog::open("run.csv".as_ref(), 0)?;
//! log.record(0, 1.25, Some(1e-3), 0.4)?;
//! log.record(1, 0.75, Some(1e-3), 0.8)?;
//! let png = log.write_png()?; // run.png, 800 × 480
//! # Ok::<(), cairn_train::Error>(())
//! ```
//!
//! Opening an existing log for a resumed job keeps its rows before the
//! resume step and drops later ones (written after the checkpoint the job
//! resumes from).

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use image::{Rgb, RgbImage};

use crate::{Error, Result};

/// Size of the loss curve image.
pub const PLOT_SIZE: (u32, u32) = (800, 480);

/// One row of the log.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LossRow {
    /// Optimizer step.
    pub step: u64,
    /// Loss of the step.
    pub loss: f64,
    /// Learning rate, if the job has one.
    pub lr: Option<f64>,
    /// Seconds since the job started.
    pub wall_s: f64,
}

/// An open loss log.
#[derive(Debug)]
pub struct LossLog {
    csv: PathBuf,
    file: BufWriter<File>,
    rows: Vec<LossRow>,
}

fn io_error(path: &Path, error: impl std::fmt::Display) -> Error {
    Error::Io { path: path.display().to_string(), reason: error.to_string() }
}

/// Reads a loss log.
pub fn read_csv(path: &Path) -> Result<Vec<LossRow>> {
    let text = std::fs::read_to_string(path).map_err(|e| io_error(path, e))?;
    let mut lines = text.lines();
    if lines.next() != Some("step,loss,lr,wall_s") {
        return Err(io_error(path, "not a loss log (header is not step,loss,lr,wall_s)"));
    }
    lines
        .enumerate()
        .map(|(i, line)| parse_row(line).ok_or_else(|| io_error(path, format!("line {}: bad row {line:?}", i + 2))))
        .collect()
}

fn parse_row(line: &str) -> Option<LossRow> {
    let fields: Vec<&str> = line.split(',').collect();
    let [step, loss, lr, wall_s] = fields[..] else { return None };
    let lr = if lr.is_empty() { None } else { Some(lr.parse().ok()?) };
    Some(LossRow { step: step.parse().ok()?, loss: loss.parse().ok()?, lr, wall_s: wall_s.parse().ok()? })
}

impl LossLog {
    /// Opens (creates) the log at `csv` for a job starting at `first_step`;
    /// rows of an earlier run before `first_step` are kept.
    pub fn open(csv: &Path, first_step: u64) -> Result<Self> {
        let mut rows = if first_step > 0 && csv.exists() { read_csv(csv)? } else { Vec::new() };
        rows.retain(|row| row.step < first_step);
        let file = File::create(csv).map_err(|e| io_error(csv, e))?;
        let mut log = Self { csv: csv.to_path_buf(), file: BufWriter::new(file), rows: Vec::new() };
        writeln!(log.file, "step,loss,lr,wall_s").map_err(|e| io_error(csv, e))?;
        for row in rows {
            log.record(row.step, row.loss, row.lr, row.wall_s)?;
        }
        Ok(log)
    }

    /// Appends a row and flushes it to disk.
    pub fn record(&mut self, step: u64, loss: f64, lr: Option<f64>, wall_s: f64) -> Result<()> {
        let lr_text = lr.map(|lr| lr.to_string()).unwrap_or_default();
        writeln!(self.file, "{step},{loss},{lr_text},{wall_s}")
            .and_then(|()| self.file.flush())
            .map_err(|e| io_error(&self.csv, e))?;
        self.rows.push(LossRow { step, loss, lr, wall_s });
        Ok(())
    }

    /// The rows so far.
    pub fn rows(&self) -> &[LossRow] {
        &self.rows
    }

    /// Where the PNG goes: the CSV path with the extension `png`.
    pub fn png_path(&self) -> PathBuf {
        self.csv.with_extension("png")
    }

    /// Renders the loss curve of every row so far to [`LossLog::png_path`].
    pub fn write_png(&self) -> Result<PathBuf> {
        let path = self.png_path();
        let points: Vec<(f64, f64)> = self.rows.iter().map(|r| (r.step as f64, r.loss)).collect();
        plot(&points).save(&path).map_err(|e| io_error(&path, e))?;
        Ok(path)
    }
}

const WHITE: Rgb<u8> = Rgb([255, 255, 255]);
const FRAME: Rgb<u8> = Rgb([60, 60, 60]);
const GRID: Rgb<u8> = Rgb([220, 220, 220]);
const CURVE: Rgb<u8> = Rgb([31, 119, 180]);

/// A loss curve: white background, a frame, horizontal grid lines at
/// quarters, the curve in blue (log-scaled when the positive losses span
/// more than a factor 20), the highest and lowest loss written at the top
/// and bottom of the frame and the first and last step under it.
/// Non-finite losses are skipped.
pub fn plot(points: &[(f64, f64)]) -> RgbImage {
    let (width, height) = PLOT_SIZE;
    let mut image = RgbImage::from_pixel(width, height, WHITE);
    let (left, top, right, bottom) = (50.0, 20.0, f64::from(width) - 20.0, f64::from(height) - 40.0);
    for k in 1..4 {
        let y = top + (bottom - top) * f64::from(k) / 4.0;
        line(&mut image, (left, y), (right, y), GRID);
    }
    for (a, b) in [((left, top), (right, top)), ((right, top), (right, bottom)), ((right, bottom), (left, bottom))] {
        line(&mut image, a, b, FRAME);
    }
    line(&mut image, (left, bottom), (left, top), FRAME);
    let finite: Vec<(f64, f64)> = points.iter().copied().filter(|p| p.0.is_finite() && p.1.is_finite()).collect();
    let range = |values: &mut dyn Iterator<Item = f64>| {
        values.fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| (lo.min(v), hi.max(v)))
    };
    let (x_lo, x_hi) = range(&mut finite.iter().map(|p| p.0));
    let (y_lo, y_hi) = range(&mut finite.iter().map(|p| p.1));
    let log = y_lo > 0.0 && y_hi / y_lo > 20.0;
    let scale_y = |v: f64| if log { v.ln() } else { v };
    let (s_lo, s_hi) = (scale_y(y_lo), scale_y(y_hi));
    let pad = if s_hi > s_lo { 0.05 * (s_hi - s_lo) } else { 1.0 };
    let to_pixel = |(x, y): (f64, f64)| {
        let fx = if x_hi > x_lo { (x - x_lo) / (x_hi - x_lo) } else { 0.5 };
        let fy = (scale_y(y) - (s_lo - pad)) / (s_hi - s_lo + 2.0 * pad);
        (left + fx * (right - left), bottom - fy * (bottom - top))
    };
    let pixels: Vec<(f64, f64)> = finite.iter().copied().map(to_pixel).collect();
    for pair in pixels.windows(2) {
        for dy in [0.0, 1.0] {
            line(&mut image, (pair[0].0, pair[0].1 + dy), (pair[1].0, pair[1].1 + dy), CURVE);
        }
    }
    if let [only] = pixels[..] {
        line(&mut image, (only.0 - 3.0, only.1), (only.0 + 3.0, only.1), CURVE);
    }
    if !finite.is_empty() {
        let number = |v: f64| if v.abs() >= 1e-3 || v == 0.0 { format!("{v:.4}") } else { format!("{v:.2e}") };
        text(&mut image, (left + 6.0, top + 6.0), &number(y_hi));
        text(&mut image, (left + 6.0, bottom - 16.0), &number(y_lo));
        // Steps print whole; fractions (a recall axis) to three decimals.
        let axis = |v: f64| if v.fract() == 0.0 { format!("{v}") } else { format!("{v:.3}") };
        text(&mut image, (left, bottom + 10.0), &axis(x_lo));
        let last = axis(x_hi);
        text(&mut image, (right - 8.0 * last.len() as f64, bottom + 10.0), &last);
    }
    image
}

/// 3 × 5 glyphs (rows top to bottom, 3 bits each, most significant left)
/// for the characters numbers need.
fn glyph(c: char) -> Option<[u8; 5]> {
    Some(match c {
        '0' => [7, 5, 5, 5, 7],
        '1' => [2, 6, 2, 2, 7],
        '2' => [7, 1, 7, 4, 7],
        '3' => [7, 1, 7, 1, 7],
        '4' => [5, 5, 7, 1, 1],
        '5' => [7, 4, 7, 1, 7],
        '6' => [7, 4, 7, 5, 7],
        '7' => [7, 1, 1, 1, 1],
        '8' => [7, 5, 7, 5, 7],
        '9' => [7, 5, 7, 1, 7],
        '.' => [0, 0, 0, 0, 2],
        '-' => [0, 0, 7, 0, 0],
        '+' => [0, 2, 7, 2, 0],
        'e' => [0, 7, 7, 4, 7],
        _ => return None,
    })
}

/// Writes `label` with its top-left corner at `at`, glyphs scaled 2×.
fn text(image: &mut RgbImage, at: (f64, f64), label: &str) {
    for (i, rows) in label.chars().filter_map(glyph).enumerate() {
        for (r, bits) in rows.iter().enumerate() {
            for col in (0..3).filter(|col| bits & (4 >> col) != 0) {
                let x = at.0 + 8.0 * i as f64 + 2.0 * col as f64;
                let y = at.1 + 2.0 * r as f64;
                for (dx, dy) in [(0.0, 0.0), (1.0, 0.0), (0.0, 1.0), (1.0, 1.0)] {
                    line(image, (x + dx, y + dy), (x + dx, y + dy), FRAME);
                }
            }
        }
    }
}

/// A straight line between two pixel positions (clipped to the image).
fn line(image: &mut RgbImage, from: (f64, f64), to: (f64, f64), colour: Rgb<u8>) {
    let steps = (to.0 - from.0).abs().max((to.1 - from.1).abs()).ceil().max(1.0) as usize;
    for i in 0..=steps {
        let t = i as f64 / steps as f64;
        let (x, y) = (from.0 + t * (to.0 - from.0), from.1 + t * (to.1 - from.1));
        if x >= 0.0 && y >= 0.0 && (x as u32) < image.width() && (y as u32) < image.height() {
            image.put_pixel(x as u32, y as u32, colour);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_round_trip_with_and_without_lr() {
        let row = parse_row("3,0.5,,1.25").unwrap();
        assert_eq!(row, LossRow { step: 3, loss: 0.5, lr: None, wall_s: 1.25 });
        assert_eq!(parse_row("3,0.5,0.001,2").unwrap().lr, Some(0.001));
        assert!(parse_row("3,0.5,2").is_none());
        assert!(parse_row("x,0.5,,2").is_none());
    }

    #[test]
    fn the_curve_is_drawn_and_falls() {
        let points: Vec<(f64, f64)> = (0..50).map(|s| (s as f64, 1.0 / (1.0 + s as f64))).collect();
        let image = plot(&points);
        assert_eq!(image.dimensions(), PLOT_SIZE);
        let column_of = |x: u32| (0..image.height()).find(|&y| *image.get_pixel(x, y) == CURVE);
        let (start, end) = (column_of(55).unwrap(), column_of(775).unwrap());
        assert!(start < end, "the curve starts high and ends low: {start} vs {end}");
    }

    #[test]
    fn degenerate_input_still_draws() {
        assert!(plot(&[]).pixels().any(|p| *p == FRAME));
        assert!(plot(&[(0.0, 1.0)]).pixels().any(|p| *p == CURVE));
        assert!(plot(&[(0.0, f64::NAN), (1.0, 2.0), (2.0, 2.0)]).pixels().any(|p| *p == CURVE));
    }
}
