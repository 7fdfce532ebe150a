#!/usr/bin/env python3
"""Open3D's RGB-D odometry over a TUM RGB-D folder: the baseline that
`scripts/compare-open3d` runs beside `cairn slam`.

Frame-to-frame `o3d.pipelines.odometry.compute_rgbd_odometry` with the hybrid
(photometric + depth) Jacobian and Open3D's default options, chained into a
trajectory, exactly as Open3D's own RGB-D odometry tutorial does. Open3D has
no lens model, so colour and depth are first undistorted with the folder's
plumb_bob calibration (timed separately; cairn models the distortion itself).
A failed step keeps the previous pose (counted and reported).

Writes the estimate (TUM format, one pose per associated frame) and prints one
JSON line: frames, failures, odometry wall and CPU seconds (the
compute_rgbd_odometry calls alone), preparation seconds (reading,
undistorting, building RGBDImages).

Usage: open3d_rgbd_odometry.py DATASET --out est.tum [--frames N]
"""

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import open3d as o3d
import yaml


def read_list(path):
    """`stamp filename` lines of rgb.txt / depth.txt."""
    entries = []
    for line in Path(path).read_text().splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            stamp, name = line.split()[:2]
            entries.append((float(stamp), name))
    return entries


def associate(rgb, depth, max_difference=0.02):
    """Pairs each colour frame with the nearest depth frame (as cairn does)."""
    depth_stamps = np.array([s for s, _ in depth])
    pairs = []
    for stamp, name in rgb:
        k = int(np.argmin(np.abs(depth_stamps - stamp)))
        if abs(depth_stamps[k] - stamp) <= max_difference:
            pairs.append((stamp, name, depth[k][1]))
    return pairs


def read_calibration(dataset):
    """K, distortion (k1 k2 p1 p2 k3), size and depth scale from calib.yaml."""
    calib = yaml.safe_load((dataset / "calib.yaml").read_text())
    k = np.array(calib["camera_matrix"]["data"], dtype=np.float64).reshape(3, 3)
    d = np.zeros(5)
    coefficients = calib.get("distortion_coefficients", {}).get("data", [])
    d[: len(coefficients)] = coefficients[:5]
    return k, d, calib["image_width"], calib["image_height"], float(calib.get("depth_scale", 5000.0))


def undistortion_map(k, d, width, height):
    """For each pixel of the ideal pinhole image, where to sample the raw one."""
    u, v = np.meshgrid(np.arange(width, dtype=np.float64), np.arange(height, dtype=np.float64))
    x = (u - k[0, 2]) / k[0, 0]
    y = (v - k[1, 2]) / k[1, 1]
    r2 = x * x + y * y
    radial = 1 + d[0] * r2 + d[1] * r2 * r2 + d[4] * r2 * r2 * r2
    xd = x * radial + 2 * d[2] * x * y + d[3] * (r2 + 2 * x * x)
    yd = y * radial + d[2] * (r2 + 2 * y * y) + 2 * d[3] * x * y
    return xd * k[0, 0] + k[0, 2], yd * k[1, 1] + k[1, 2]


def remap_nearest(image, map_u, map_v):
    """Nearest-neighbour sampling; outside the raw image gives 0 (no data)."""
    h, w = image.shape[:2]
    iu = np.rint(map_u).astype(np.int64)
    iv = np.rint(map_v).astype(np.int64)
    inside = (iu >= 0) & (iu < w) & (iv >= 0) & (iv < h)
    out = np.zeros_like(image)
    out[inside] = image[iv[inside], iu[inside]]
    return out


def rotation_to_quaternion(r):
    """(qx, qy, qz, qw) of a rotation matrix."""
    trace = r[0, 0] + r[1, 1] + r[2, 2]
    if trace > 0:
        s = 2.0 * np.sqrt(trace + 1.0)
        return ((r[2, 1] - r[1, 2]) / s, (r[0, 2] - r[2, 0]) / s, (r[1, 0] - r[0, 1]) / s, 0.25 * s)
    i = int(np.argmax([r[0, 0], r[1, 1], r[2, 2]]))
    j, k = (i + 1) % 3, (i + 2) % 3
    s = 2.0 * np.sqrt(1.0 + r[i, i] - r[j, j] - r[k, k])
    q = [0.0, 0.0, 0.0]
    q[i] = 0.25 * s
    q[j] = (r[j, i] + r[i, j]) / s
    q[k] = (r[k, i] + r[i, k]) / s
    return (q[0], q[1], q[2], (r[k, j] - r[j, k]) / s)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("dataset", type=Path)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--frames", type=int, default=None)
    args = parser.parse_args()

    pairs = associate(read_list(args.dataset / "rgb.txt"), read_list(args.dataset / "depth.txt"))
    if args.frames is not None:
        pairs = pairs[: args.frames]
    if not pairs:
        sys.exit(f"error: no associated colour/depth frames in {args.dataset}")
    k, d, width, height, depth_scale = read_calibration(args.dataset)
    map_u, map_v = undistortion_map(k, d, width, height)
    intrinsic = o3d.camera.PinholeCameraIntrinsic(width, height, k[0, 0], k[1, 1], k[0, 2], k[1, 2])
    option = o3d.pipelines.odometry.OdometryOption()
    jacobian = o3d.pipelines.odometry.RGBDOdometryJacobianFromHybridTerm()

    prepare_s = odometry_s = odometry_cpu_s = 0.0
    failures = 0
    world_from_camera = np.eye(4)
    previous = None
    lines = []
    for stamp, rgb_name, depth_name in pairs:
        t0 = time.perf_counter()
        colour = np.asarray(o3d.io.read_image(str(args.dataset / rgb_name)))
        depth = np.asarray(o3d.io.read_image(str(args.dataset / depth_name)))
        colour = np.ascontiguousarray(remap_nearest(colour, map_u, map_v))
        depth = np.ascontiguousarray(remap_nearest(depth, map_u, map_v))
        rgbd = o3d.geometry.RGBDImage.create_from_color_and_depth(
            o3d.geometry.Image(colour), o3d.geometry.Image(depth), depth_scale=depth_scale, depth_trunc=4.0
        )
        prepare_s += time.perf_counter() - t0
        if previous is not None:
            t0, c0 = time.perf_counter(), time.process_time()
            # previous_from_current: maps the current frame's points into the previous frame.
            success, previous_from_current, _ = o3d.pipelines.odometry.compute_rgbd_odometry(
                rgbd, previous, intrinsic, np.eye(4), jacobian, option
            )
            odometry_s += time.perf_counter() - t0
            odometry_cpu_s += time.process_time() - c0
            if success:
                world_from_camera = world_from_camera @ previous_from_current
            else:
                failures += 1
        previous = rgbd
        t = world_from_camera[:3, 3]
        q = rotation_to_quaternion(world_from_camera[:3, :3])
        lines.append(f"{stamp:.6f} {t[0]:.9f} {t[1]:.9f} {t[2]:.9f} {q[0]:.9f} {q[1]:.9f} {q[2]:.9f} {q[3]:.9f}")
    args.out.write_text("\n".join(lines) + "\n")
    print(json.dumps({"frames": len(pairs), "failures": failures, "odometry_s": odometry_s, "odometry_cpu_s": odometry_cpu_s, "prepare_s": prepare_s}))


if __name__ == "__main__":
    main()
