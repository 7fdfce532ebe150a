"""nuScenes detection metrics by the nuscenes-devkit itself, for comparing
with `cairn eval det` (perception/tests/devkit_metrics.rs).

    nusc_metrics.py GT.json PRED.json

GT.json holds the ground truth as cairn converts it from a sample set, before
any filtering: {"gt": {token: [{translation, size, rotation, velocity (null =
unknown), detection_name, num_pts}]}, "ego": {token: [x, y, z]}} (the ego
position of each sample). PRED.json is the submission, read by the devkit's
own `load_prediction`. The boxes then go through the devkit's code path of
`DetectionEval`: `add_center_dist` and `filter_eval_boxes` (with a stand-in for
the three NuScenes tables they read: sample -> LIDAR_TOP sample_data -> ego
pose, and no bicycle-rack annotations), then `DetectionEval.evaluate`
(`accumulate`, `calc_ap`, `calc_tp` per class and threshold) with the
`detection_cvpr_2019` config. Prints the devkit's metrics summary as one JSON
object (NaN as null) with the filtered box counts.
"""

import json
import math
import sys

from nuscenes.eval.common.config import config_factory
from nuscenes.eval.common.data_classes import EvalBoxes
from nuscenes.eval.common.loaders import add_center_dist, filter_eval_boxes, load_prediction
from nuscenes.eval.detection.data_classes import DetectionBox
from nuscenes.eval.detection.evaluate import DetectionEval


class EgoPoses:
    """The part of `NuScenes.get` that the devkit's loaders read."""

    def __init__(self, ego):
        self.ego = ego

    def get(self, table, token):
        if table == "sample":
            return {"data": {"LIDAR_TOP": token}, "anns": []}
        if table == "sample_data":
            return {"ego_pose_token": token}
        if table == "ego_pose":
            return {"translation": self.ego[token], "rotation": [1.0, 0.0, 0.0, 0.0]}
        raise KeyError(f"{table} is not a table this oracle serves")


def ground_truth(boxes_by_token):
    gt = EvalBoxes()
    for token, boxes in boxes_by_token.items():
        gt.add_boxes(token, [
            DetectionBox(
                sample_token=token,
                translation=tuple(b["translation"]),
                size=tuple(b["size"]),
                rotation=tuple(b["rotation"]),
                velocity=tuple(math.nan if v is None else v for v in b["velocity"]),
                num_pts=int(b["num_pts"]),
                detection_name=b["detection_name"],
                attribute_name="",
            )
            for b in boxes
        ])
    return gt


def finite_or_none(value):
    if isinstance(value, dict):
        return {str(k): finite_or_none(v) for k, v in value.items()}
    value = float(value)
    return value if math.isfinite(value) else None


def main(gt_path, pred_path):
    cfg = config_factory("detection_cvpr_2019")
    with open(gt_path) as f:
        data = json.load(f)
    tables = EgoPoses(data["ego"])
    gt = ground_truth(data["gt"])
    pred, _meta = load_prediction(pred_path, cfg.max_boxes_per_sample, DetectionBox)
    assert set(pred.sample_tokens) == set(gt.sample_tokens), "Samples in split doesn't match samples in predictions."
    # The devkit's filter raises ("Invalid box type: None") on a submission
    # without a single box; there is nothing to filter then.
    if pred.all:
        pred = filter_eval_boxes(tables, add_center_dist(tables, pred), cfg.class_range)
    gt = filter_eval_boxes(tables, add_center_dist(tables, gt), cfg.class_range)

    evaluation = DetectionEval.__new__(DetectionEval)  # its evaluate() without the NuScenes loading of __init__
    evaluation.cfg, evaluation.gt_boxes, evaluation.pred_boxes, evaluation.verbose = cfg, gt, pred, False
    metrics, _ = evaluation.evaluate()
    summary = metrics.serialize()
    out = {key: finite_or_none(summary[key]) for key in
           ("label_aps", "mean_dist_aps", "mean_ap", "label_tp_errors", "tp_errors", "tp_scores", "nd_score")}
    out["gt_boxes"] = len(gt.all)
    out["pred_boxes"] = len(pred.all)
    print(json.dumps(out))


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
