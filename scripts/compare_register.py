#!/usr/bin/env python3
"""`cairn loop register` beside Open3D's FPFH + RANSAC, on the same pairs.

Run through `scripts/compare-register`, which sets up the Python environment
and finds cairn. Each trial cuts the real indoor cloud (../shared/data/clouds)
into a target and a source on the two sides of a random plane (each keeps
about 70% of the points, so they overlap by >= 40%), noises the source (sigma
5 mm), re-samples it (70% of its points) and moves it by a random rotation and
up to 1 m of translation -- the recipe of
perception/tests/real_cloud_registration.rs. Both tools get the same two PLY
files and the same voxel size, on one core (taskset, RAYON_NUM_THREADS=1,
OMP_NUM_THREADS=1). A trial succeeds when the estimate is within 2 degrees
and 5 cm of the truth.

Open3D runs the pipeline of the L3D reference code with its settings:
voxel_down_sample, normals (radius 2 voxels, 30 neighbours), FPFH (radius 5
voxels, 100 neighbours), registration_ransac_based_on_feature_matching with
max correspondence distance 2 voxels (0.1 m at the reference's 5 cm voxels),
ransac_n 3, the edge-length (0.9) and distance checkers, and convergence
criteria of 1,000,000 iterations (the reference's max_validation 500 is
confidence 0.999 in Open3D >= 0.13's API). Its time is the whole step
(downsampling to the estimate), as cairn's `timings_ms.total` is; reading the
files is excluded for both.

Usage: compare_register.py --cairn target/release/cairn --work target/compare-register [--trials 100] [--voxel 0.05]
"""

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")
import numpy as np  # noqa: E402
import open3d as o3d  # noqa: E402

HERE = Path(__file__).resolve().parent
SHARED = Path(os.environ.get("CAIRN_SHARED_DATA", HERE.parent.parent / "shared" / "data"))
CLOUD = SHARED / "clouds" / "vigohome_livingroom_downstairs.ply"


def random_rotation(rng):
    """A rotation about a uniformly random axis by an angle uniform in [0, pi)."""
    axis = rng.normal(size=3)
    axis /= np.linalg.norm(axis)
    angle = rng.uniform(0.0, np.pi)
    k = np.array([[0, -axis[2], axis[1]], [axis[2], 0, -axis[0]], [-axis[1], axis[0], 0]])
    return np.eye(3) + np.sin(angle) * k + (1 - np.cos(angle)) * (k @ k)


def trial_pair(points, seed):
    """(target points, source points, target_from_source 4x4)."""
    rng = np.random.default_rng(seed)
    centroid = points.mean(axis=0)
    direction = rng.normal(size=3)
    direction /= np.linalg.norm(direction)
    heights = (points - centroid) @ direction
    low, high = np.quantile(heights, [0.3, 0.7])
    truth = np.eye(4)
    truth[:3, :3] = random_rotation(rng)
    truth[:3, 3] = rng.uniform(-1.0, 1.0, size=3)
    target = points[heights <= high]
    keep = (heights >= low) & (rng.random(len(points)) < 0.7)
    noisy = points[keep] + rng.normal(scale=0.005, size=(keep.sum(), 3))
    # The source lives in its own frame: target_from_source = truth.
    inverse = np.linalg.inv(truth)
    source = noisy @ inverse[:3, :3].T + inverse[:3, 3]
    return target, source, truth


def write_ply(path, points):
    cloud = o3d.geometry.PointCloud(o3d.utility.Vector3dVector(points))
    if not o3d.io.write_point_cloud(str(path), cloud, write_ascii=False):
        sys.exit(f"error: could not write {path}")


def errors(estimate, truth):
    """(rotation error in degrees, translation error in metres)."""
    delta = estimate @ np.linalg.inv(truth)
    cosine = np.clip((np.trace(delta[:3, :3]) - 1.0) / 2.0, -1.0, 1.0)
    return float(np.degrees(np.arccos(cosine))), float(np.linalg.norm(delta[:3, 3]))


def run_cairn(cairn, target, source, voxel, seed):
    """(target_from_source, step ms) from `cairn loop register --json` on core 0."""
    command = ["taskset", "-c", "0", str(cairn), "loop", "register", str(target), str(source),
               "--voxel", str(voxel), "--seed", str(seed), "--json"]
    done = subprocess.run(command, env=dict(os.environ, RAYON_NUM_THREADS="1"), capture_output=True, text=True)
    if done.returncode != 0:
        return None, None, done.stderr.strip().splitlines()[-1:] or ["failed"]
    result = json.loads(done.stdout)
    return np.array(result["target_from_source"]), result["timings_ms"]["total"], None


def run_open3d(target_file, source_file, voxel, seed):
    """(target_from_source, step ms): the reference code's Open3D pipeline."""
    reg = o3d.pipelines.registration
    target = o3d.io.read_point_cloud(str(target_file))
    source = o3d.io.read_point_cloud(str(source_file))
    o3d.utility.random.seed(seed)
    start = time.perf_counter()
    features = []
    for cloud in (source, target):
        down = cloud.voxel_down_sample(voxel)
        down.estimate_normals(o3d.geometry.KDTreeSearchParamHybrid(radius=2 * voxel, max_nn=30))
        fpfh = reg.compute_fpfh_feature(down, o3d.geometry.KDTreeSearchParamHybrid(radius=5 * voxel, max_nn=100))
        features.append((down, fpfh))
    (source_down, source_fpfh), (target_down, target_fpfh) = features
    distance = 2 * voxel
    result = reg.registration_ransac_based_on_feature_matching(
        source_down, target_down, source_fpfh, target_fpfh, False, distance,
        reg.TransformationEstimationPointToPoint(False), 3,
        [reg.CorrespondenceCheckerBasedOnEdgeLength(0.9), reg.CorrespondenceCheckerBasedOnDistance(distance)],
        reg.RANSACConvergenceCriteria(1000000, 0.999))
    return np.asarray(result.transformation), 1e3 * (time.perf_counter() - start)


def summary(name, rows):
    ok = [r for r in rows if r["ok"]]
    times = np.array([r["ms"] for r in rows if r["ms"] is not None])
    return {
        "tool": name,
        "success": len(ok),
        "trials": len(rows),
        "median_ms": float(np.median(times)) if len(times) else None,
        "mean_ms": float(np.mean(times)) if len(times) else None,
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cairn", required=True, type=Path)
    parser.add_argument("--work", required=True, type=Path)
    parser.add_argument("--trials", type=int, default=100)
    parser.add_argument("--first-seed", type=int, default=1000)
    parser.add_argument("--voxel", type=float, default=0.05)
    args = parser.parse_args()
    if not CLOUD.is_file():
        sys.exit(f"error: {CLOUD} is missing (the shared data folder; set CAIRN_SHARED_DATA)")
    os.sched_setaffinity(0, {0})
    args.work.mkdir(parents=True, exist_ok=True)
    points = np.asarray(o3d.io.read_point_cloud(str(CLOUD)).points)
    rows = {"cairn": [], "open3d": []}
    for seed in range(args.first_seed, args.first_seed + args.trials):
        target, source, truth = trial_pair(points, seed)
        target_file, source_file = args.work / "target.ply", args.work / "source.ply"
        write_ply(target_file, target)
        write_ply(source_file, source)
        found, ms, failure = run_cairn(args.cairn, target_file, source_file, args.voxel, seed)
        line = [f"seed {seed}:"]
        for name, (estimate, step_ms) in (("cairn", (found, ms)),
                                          ("open3d", run_open3d(target_file, source_file, args.voxel, seed))):
            if estimate is None:
                rows[name].append({"seed": seed, "ok": False, "ms": None, "failure": failure})
                line.append(f"{name} failed ({failure[0]})")
                continue
            degrees, metres = errors(estimate, truth)
            ok = degrees < 2.0 and metres < 0.05
            rows[name].append({"seed": seed, "ok": ok, "ms": step_ms, "deg": degrees, "m": metres})
            line.append(f"{name} {'ok ' if ok else 'BAD'} {degrees:6.2f} deg {100 * metres:6.1f} cm {step_ms:8.0f} ms")
        print("  ".join(line), flush=True)
    results = [summary(name, rows[name]) for name in ("cairn", "open3d")]
    (args.work / "compare.json").write_text(json.dumps({"summary": results, "trials": rows}, indent=1))
    print(f"\n{'tool':8} {'success':>9} {'median ms/pair':>15} {'mean ms/pair':>13}")
    for r in results:
        median = "-" if r["median_ms"] is None else f"{r['median_ms']:.0f}"
        mean = "-" if r["mean_ms"] is None else f"{r['mean_ms']:.0f}"
        print(f"{r['tool']:8} {r['success']:>4}/{r['trials']:<4} {median:>15} {mean:>13}")
    cairn, open3d = results
    if cairn["median_ms"] and open3d["median_ms"]:
        print(f"Open3D / cairn time per pair (median): {open3d['median_ms'] / cairn['median_ms']:.2f}x")
    print(f"(details: {args.work / 'compare.json'})")


if __name__ == "__main__":
    main()
