#!/usr/bin/env python3
"""cairn slam beside Open3D's RGB-D odometry, on the same rendered sequences.

Run through `scripts/compare-open3d`, which sets up the Python environment and
builds cairn. Both tools run on one thread (RAYON_NUM_THREADS=1,
OMP_NUM_THREADS=1) over each sequence. ATE is the SE(3)-aligned RMSE from
`cairn eval ate` (which agrees with evo to 1e-6). Speed is CPU time per frame
of each whole process (reading images included), from getrusage, so that a
busy machine does not distort it; the core step alone (cairn's tracking from
its per-frame log, Open3D's compute_rgbd_odometry calls) is shown too.

Usage: compare_open3d.py --cairn target/release/cairn --work target/compare-open3d [--frames N]
"""

import argparse
import json
import os
import resource
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
SHARED = Path(os.environ.get("CAIRN_SHARED_DATA", HERE.parent.parent / "shared" / "data"))


def sequences():
    """(name, `cairn sim rgbd` arguments); real motions only when the shared data is there."""
    found = []
    trajectories = SHARED / "trajectories"
    if (trajectories / "tum_fr1_xyz_groundtruth.txt").is_file():
        found.append(("fr1_xyz", ["--trajectory", str(trajectories / "tum_fr1_xyz_groundtruth.txt")]))
    if (trajectories / "tum_fr2_desk_groundtruth.txt").is_file():
        # The first 30 s at 30 Hz.
        found.append(("fr2_desk_30s", ["--trajectory", str(trajectories / "tum_fr2_desk_groundtruth.txt"), "--frames", "900"]))
    found.append(("loop_2laps", ["--path", "loop", "--laps", "2"]))
    found.append(("figure8_seed11", ["--path", "figure8", "--seed", "11"]))
    found.append(("corridor_seed7", ["--path", "corridor", "--seed", "7"]))
    return found


def run_timed(command, env_extra, log):
    """Runs a command; returns (stdout, CPU seconds of it)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    env = dict(os.environ, **env_extra)
    done = subprocess.run(command, env=env, capture_output=True, text=True)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    log.write(f"$ {' '.join(map(str, command))}\n{done.stdout}{done.stderr}\n")
    if done.returncode != 0:
        sys.exit(f"error: {' '.join(map(str, command))} failed:\n{done.stderr}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return done.stdout, cpu


def ate(cairn, dataset, estimate, log):
    out, _ = run_timed([cairn, "eval", "ate", "--gt", dataset / "groundtruth.txt", "--est", estimate, "--json"], {}, log)
    return json.loads(out)["rmse"]


def cairn_tracking_seconds(log_file):
    """Sum of the per-frame `total_ms` column of cairn slam's log."""
    lines = [l for l in log_file.read_text().splitlines() if l and not l.startswith("#")]
    header = next(l for l in log_file.read_text().splitlines() if l.startswith("# stamp"))
    column = header[2:].split("\t").index("total_ms")
    return sum(float(l.split("\t")[column]) for l in lines) / 1e3


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cairn", type=Path, required=True)
    parser.add_argument("--work", type=Path, required=True)
    parser.add_argument("--frames", type=int, default=None, help="frames per sequence (default: all)")
    args = parser.parse_args()
    args.work.mkdir(parents=True, exist_ok=True)
    log = open(args.work / "compare.log", "w")
    rows = []
    for name, sim_args in sequences():
        dataset = args.work / name
        if not (dataset / ".rendered").exists():
            print(f"rendering {name} …", file=sys.stderr)
            if dataset.exists():
                subprocess.run(["rm", "-rf", dataset], check=True)
            run_timed([args.cairn, "sim", "rgbd", "--out", dataset, *sim_args], {}, log)
            (dataset / ".rendered").write_text("")
        frames = ["--frames", str(args.frames)] if args.frames else []
        print(f"cairn slam on {name} …", file=sys.stderr)
        _, cairn_cpu = run_timed(
            [args.cairn, "slam", dataset, "--out", dataset / "cairn.tum", *frames], {"RAYON_NUM_THREADS": "1"}, log
        )
        print(f"Open3D odometry on {name} …", file=sys.stderr)
        out, o3d_cpu = run_timed(
            [sys.executable, HERE / "open3d_rgbd_odometry.py", dataset, "--out", dataset / "open3d.tum", *frames],
            {"OMP_NUM_THREADS": "1"},
            log,
        )
        o3d = json.loads(out.strip().splitlines()[-1])
        n = o3d["frames"]
        rows.append(
            {
                "sequence": name,
                "frames": n,
                "cairn_ate_m": ate(args.cairn, dataset, dataset / "cairn.tum", log),
                "open3d_ate_m": ate(args.cairn, dataset, dataset / "open3d.tum", log),
                "open3d_failures": o3d["failures"],
                "cairn_cpu_ms_per_frame": 1e3 * cairn_cpu / n,
                "open3d_cpu_ms_per_frame": 1e3 * o3d_cpu / n,
                "cairn_tracking_ms_per_frame": 1e3 * cairn_tracking_seconds(dataset / "cairn.tum.log") / n,
                "open3d_odometry_cpu_ms_per_frame": 1e3 * o3d["odometry_cpu_s"] / max(n - 1, 1),
            }
        )
    (args.work / "compare.json").write_text(json.dumps(rows, indent=1) + "\n")
    print("sequence         frames  ATE cairn  ATE Open3D  (Open3D/cairn)  CPU ms/frame cairn  Open3D  (Open3D/cairn)  core ms cairn  Open3D")
    for r in rows:
        print(
            f"{r['sequence']:<16} {r['frames']:>6}  {r['cairn_ate_m']:.4f} m   {r['open3d_ate_m']:.4f} m    "
            f"{r['open3d_ate_m'] / r['cairn_ate_m']:>8.2f}×      {r['cairn_cpu_ms_per_frame']:>8.1f}     "
            f"{r['open3d_cpu_ms_per_frame']:>7.1f}  {r['open3d_cpu_ms_per_frame'] / r['cairn_cpu_ms_per_frame']:>8.2f}×      "
            f"{r['cairn_tracking_ms_per_frame']:>7.1f}  {r['open3d_odometry_cpu_ms_per_frame']:>7.1f}"
        )
    print(f"(details: {args.work / 'compare.json'}, commands and output: {args.work / 'compare.log'})")


if __name__ == "__main__":
    main()
