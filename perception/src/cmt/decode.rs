//! Inference post-processing, NMS-free as the official `MultiTaskBBoxCoder`:
//! the last decoder layer's logits → sigmoid scores, the `top_k` highest
//! over queries × classes (a query may give boxes of several classes), each
//! decoded by the box coder ([`crate::cmt::boxes::decode`]), boxes whose
//! centre leaves `infer.centre_range` dropped; then the nuScenes submission
//! through each sample's `ego2global · lidar2ego`.

use std::collections::BTreeMap;

use cairn_core::samples::SampleInfo;
use candle_core::{DType, Tensor};

use crate::cmt::boxes::{CODE_SIZE, decode};
use crate::cmt::config::CmtConfig;
use crate::detection::{LidarBox, Submission, SubmissionMeta};
use crate::{Error, Result};

/// Boxes per sample from the last layer's `class` `[B, Qt, C]` and `box`
/// `[B, Qt, 10]`, dropping the first `denoise_queries` queries (0 at
/// inference). Sorted by score, highest first.
pub fn detections(
    class: &Tensor,
    boxes: &Tensor,
    denoise_queries: usize,
    config: &CmtConfig,
) -> Result<Vec<Vec<LidarBox>>> {
    let (b, qt, c) = class.dims3()?;
    if boxes.dims3()? != (b, qt, CODE_SIZE) || qt <= denoise_queries {
        return Err(Error::Input(format!(
            "cmt decode: class {:?} and box {:?} do not agree ({denoise_queries} denoising queries)",
            class.dims(),
            boxes.dims()
        )));
    }
    let q = qt - denoise_queries;
    let logits = class.narrow(1, denoise_queries, q)?.to_dtype(DType::F32)?.flatten_all()?.to_vec1::<f32>()?;
    let codes = boxes.narrow(1, denoise_queries, q)?.to_dtype(DType::F32)?.flatten_all()?.to_vec1::<f32>()?;
    (0..b)
        .map(|s| {
            let logits = &logits[s * q * c..(s + 1) * q * c];
            let codes = &codes[s * q * CODE_SIZE..(s + 1) * q * CODE_SIZE];
            sample_detections(logits, codes, c, config)
        })
        .collect()
}

/// One sample's boxes from its logits `[Q · C]` and codes `[Q · 10]`.
fn sample_detections(logits: &[f32], codes: &[f32], classes: usize, config: &CmtConfig) -> Result<Vec<LidarBox>> {
    if logits.iter().chain(codes).any(|v| !v.is_finite()) {
        return Err(Error::Input("cmt decode: the network predicted a non-finite value".into()));
    }
    let mut order: Vec<usize> = (0..logits.len()).collect();
    let k = config.infer.top_k.min(order.len());
    // Highest logit first (σ is monotonic); ties by index, as a stable top-k.
    let by_score = |a: &usize, b: &usize| logits[*b].total_cmp(&logits[*a]).then(a.cmp(b));
    if k < order.len() {
        order.select_nth_unstable_by(k, by_score);
        order.truncate(k);
    }
    order.sort_unstable_by(by_score);
    let range = &config.infer.centre_range;
    let mut kept = Vec::with_capacity(k);
    for index in order {
        let (query, label) = (index / classes, index % classes);
        let score = 1.0 / (1.0 + (-f64::from(logits[index])).exp());
        let lidar_box = decode(&codes[query * CODE_SIZE..(query + 1) * CODE_SIZE], label, score)?;
        if (0..3).all(|a| lidar_box.centre[a] >= range[a] && lidar_box.centre[a] <= range[a + 3]) {
            kept.push(lidar_box);
        }
    }
    Ok(kept)
}

/// The nuScenes submission of boxes detected on `samples` (one list per
/// sample, in the same order).
pub fn submission(samples: &[&SampleInfo], boxes: &[Vec<LidarBox>], meta: SubmissionMeta) -> Result<Submission> {
    if samples.len() != boxes.len() {
        return Err(Error::Input(format!("{} samples but {} box lists", samples.len(), boxes.len())));
    }
    let mut results = BTreeMap::new();
    for (sample, sample_boxes) in samples.iter().zip(boxes) {
        let global = sample_boxes.iter().map(|b| b.to_global(sample)).collect::<Result<Vec<_>>>()?;
        results.insert(sample.token.clone(), global);
    }
    Ok(Submission { meta, results })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use candle_core::Device;

    use super::*;
    use crate::cmt::boxes::encode;

    fn code(x: f64) -> Vec<f32> {
        let lidar_box = LidarBox {
            centre: [x, 1.0, -0.5],
            size: [2.0, 4.0, 1.5],
            yaw: 0.4,
            velocity: [1.0, 0.0],
            label: 0,
            score: 1.0,
        };
        encode(&lidar_box).unwrap().iter().map(|v| *v as f32).collect()
    }

    /// One sample: 1 denoising query (x = 99, highest score) then 3 anchor
    /// queries at x = 0, 10, 100 (the last out of range), 2 classes.
    fn outputs() -> (Tensor, Tensor) {
        let logits = [9.0f32, 9.0, 1.0, -2.0, -3.0, 2.0, 5.0, -1.0];
        let codes = [code(99.0), code(0.0), code(10.0), code(100.0)].concat();
        let class = Tensor::from_slice(&logits, (1, 4, 2), &Device::Cpu).unwrap();
        let boxes = Tensor::from_slice(&codes, (1, 4, CODE_SIZE), &Device::Cpu).unwrap();
        (class, boxes)
    }

    #[test]
    fn top_scores_over_queries_and_classes_without_the_denoising_queries() {
        let mut config = CmtConfig::small();
        config.infer.top_k = 3;
        let (class, boxes) = outputs();
        let found = detections(&class, &boxes, 1, &config).unwrap().remove(0);
        // Top 3 of the anchors' logits: 5 (x = 100, dropped: out of range), 2 (x = 10, class 1), 1 (x = 0, class 0).
        assert_eq!(found.len(), 2);
        assert_eq!((found[0].label, found[1].label), (1, 0));
        assert!((found[0].centre[0] - 10.0).abs() < 1e-5 && found[1].centre[0].abs() < 1e-5);
        assert!((found[0].score - 1.0 / (1.0 + (-2.0f64).exp())).abs() < 1e-9);
        assert!((found[0].size[1] - 4.0).abs() < 1e-5 && (found[0].yaw - 0.4).abs() < 1e-5);
        config.infer.top_k = 300;
        assert_eq!(detections(&class, &boxes, 1, &config).unwrap()[0].len(), 4, "6 scores, 2 out of range");
        assert!(detections(&class, &boxes, 4, &config).is_err());
    }

    #[test]
    fn non_finite_predictions_are_errors() {
        let (class, boxes) = outputs();
        let bad = class.affine(f64::NAN, 0.0).unwrap();
        assert!(detections(&bad, &boxes, 0, &CmtConfig::small()).is_err());
    }

    #[test]
    fn the_submission_holds_every_sample_by_token() {
        let json = serde_json::json!({
            "sample_idx": 0, "token": "abc", "timestamp": 0.0,
            "ego2global": [[1.0, 0.0, 0.0, 5.0], [0.0, 1.0, 0.0, 0.0], [0.0, 0.0, 1.0, 0.0], [0.0, 0.0, 0.0, 1.0]],
            "images": {},
            "lidar_points": {"num_pts_feats": 5, "lidar_path": "x.pcd.bin",
                "lidar2ego": [[1.0, 0.0, 0.0, 0.0], [0.0, 1.0, 0.0, 0.0], [0.0, 0.0, 1.0, 0.0], [0.0, 0.0, 0.0, 1.0]]},
            "instances": [], "cam_instances": {}
        });
        let sample: SampleInfo = serde_json::from_value(json).unwrap();
        let (class, boxes) = outputs();
        let found = detections(&class, &boxes, 1, &CmtConfig::small()).unwrap();
        let meta =
            SubmissionMeta { use_camera: true, use_lidar: true, use_radar: false, use_map: false, use_external: false };
        let written = submission(&[&sample], &found, meta).unwrap();
        let boxes = &written.results["abc"];
        assert_eq!(boxes.len(), 4);
        assert!((boxes[0].translation[0] - 15.0).abs() < 1e-5, "x = 10 in the LiDAR frame, 5 m ahead of the origin");
        assert!(submission(&[&sample, &sample], &found, meta).is_err());
    }
}
