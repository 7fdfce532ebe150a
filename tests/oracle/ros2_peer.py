#!/usr/bin/env python3
"""A ROS 2 peer made of Cyclone DDS (PyPI `cyclonedds`), for the interop
test of `cairn node slam` (nodes/tests/node_interop.rs).

It declares the ROS 2 message types as IdlStructs with rmw's wire names
(`sensor_msgs::msg::dds_::Image_` on `rt/...` topics), then:
  1. waits until the node named --node appears on `ros_discovery_info`
     (read as a normal topic: cyclonedds 11.0.1's built-in discovery
     readers segfault on take()) and its image readers have matched;
  2. publishes the colour, depth and camera_info messages of --bag (raw CDR
     read with rosbags, decoded by these IdlStructs) in bag order, stamps
     unchanged, paced at --hz camera frames per second (images reliable,
     camera_info best effort as camera drivers send it);
  3. collects nav_msgs/Odometry and /tf until --settle seconds pass without
     one, writes the odometry poses as a TUM trajectory (--odometry-out) and
     prints one JSON line of counts.
With --listen SECONDS instead of --bag it only listens (step 3) for that
long, e.g. beside scripts/node-load, to count what a reliable subscriber
receives.

For `cairn node detect` (nodes/tests/detect_dds.rs): --detections-out FILE
subscribes to vision_msgs/Detection3DArray on --detections and writes each
message received as one JSON line (stamp, frame_id, per box class_id, score,
centre, orientation, size); with --expect N it stops listening after N.

Run it only inside a loopback-only network namespace (../shared/DESIGN.md,
NETWORK SAFETY).
"""
import argparse
import json
import sys
import time
from dataclasses import dataclass

from cyclonedds.core import Qos, Policy
from cyclonedds.domain import DomainParticipant
from cyclonedds.idl import IdlStruct
from cyclonedds.idl.types import array, float64, int32, sequence, uint8, uint32
from cyclonedds.pub import DataWriter
from cyclonedds.sub import DataReader
from cyclonedds.topic import Topic
from cyclonedds.util import duration
from rosbags.rosbag2 import Reader


@dataclass
class Time_(IdlStruct, typename="builtin_interfaces::msg::dds_::Time_"):
    sec: int32
    nanosec: uint32


@dataclass
class Header_(IdlStruct, typename="std_msgs::msg::dds_::Header_"):
    stamp: Time_
    frame_id: str


@dataclass
class Image_(IdlStruct, typename="sensor_msgs::msg::dds_::Image_"):
    header: Header_
    height: uint32
    width: uint32
    encoding: str
    is_bigendian: uint8
    step: uint32
    data: sequence[uint8]


@dataclass
class RegionOfInterest_(IdlStruct, typename="sensor_msgs::msg::dds_::RegionOfInterest_"):
    x_offset: uint32
    y_offset: uint32
    height: uint32
    width: uint32
    do_rectify: bool


@dataclass
class CameraInfo_(IdlStruct, typename="sensor_msgs::msg::dds_::CameraInfo_"):
    header: Header_
    height: uint32
    width: uint32
    distortion_model: str
    d: sequence[float64]
    k: array[float64, 9]
    r: array[float64, 9]
    p: array[float64, 12]
    binning_x: uint32
    binning_y: uint32
    roi: RegionOfInterest_


@dataclass
class Point_(IdlStruct, typename="geometry_msgs::msg::dds_::Point_"):
    x: float64
    y: float64
    z: float64


@dataclass
class Vector3_(IdlStruct, typename="geometry_msgs::msg::dds_::Vector3_"):
    x: float64
    y: float64
    z: float64


@dataclass
class Quaternion_(IdlStruct, typename="geometry_msgs::msg::dds_::Quaternion_"):
    x: float64
    y: float64
    z: float64
    w: float64


@dataclass
class Pose_(IdlStruct, typename="geometry_msgs::msg::dds_::Pose_"):
    position: Point_
    orientation: Quaternion_


@dataclass
class PoseWithCovariance_(IdlStruct, typename="geometry_msgs::msg::dds_::PoseWithCovariance_"):
    pose: Pose_
    covariance: array[float64, 36]


@dataclass
class Twist_(IdlStruct, typename="geometry_msgs::msg::dds_::Twist_"):
    linear: Vector3_
    angular: Vector3_


@dataclass
class TwistWithCovariance_(IdlStruct, typename="geometry_msgs::msg::dds_::TwistWithCovariance_"):
    twist: Twist_
    covariance: array[float64, 36]


@dataclass
class Odometry_(IdlStruct, typename="nav_msgs::msg::dds_::Odometry_"):
    header: Header_
    child_frame_id: str
    pose: PoseWithCovariance_
    twist: TwistWithCovariance_


@dataclass
class Transform_(IdlStruct, typename="geometry_msgs::msg::dds_::Transform_"):
    translation: Vector3_
    rotation: Quaternion_


@dataclass
class TransformStamped_(IdlStruct, typename="geometry_msgs::msg::dds_::TransformStamped_"):
    header: Header_
    child_frame_id: str
    transform: Transform_


@dataclass
class TFMessage_(IdlStruct, typename="tf2_msgs::msg::dds_::TFMessage_"):
    transforms: sequence[TransformStamped_]


@dataclass
class ObjectHypothesis_(IdlStruct, typename="vision_msgs::msg::dds_::ObjectHypothesis_"):
    class_id: str
    score: float64


@dataclass
class ObjectHypothesisWithPose_(IdlStruct, typename="vision_msgs::msg::dds_::ObjectHypothesisWithPose_"):
    hypothesis: ObjectHypothesis_
    pose: PoseWithCovariance_


@dataclass
class BoundingBox3D_(IdlStruct, typename="vision_msgs::msg::dds_::BoundingBox3D_"):
    center: Pose_
    size: Vector3_


@dataclass
class Detection3D_(IdlStruct, typename="vision_msgs::msg::dds_::Detection3D_"):
    header: Header_
    results: sequence[ObjectHypothesisWithPose_]
    bbox: BoundingBox3D_
    id: str


@dataclass
class Detection3DArray_(IdlStruct, typename="vision_msgs::msg::dds_::Detection3DArray_"):
    header: Header_
    detections: sequence[Detection3D_]


def detection_record(message):
    """One Detection3DArray as plain JSON."""
    boxes = []
    for d in message.detections:
        c, q, size = d.bbox.center.position, d.bbox.center.orientation, d.bbox.size
        best = d.results[0].hypothesis if d.results else ObjectHypothesis_("", 0.0)
        boxes.append({"class_id": best.class_id, "score": best.score, "center": [c.x, c.y, c.z],
                      "orientation": [q.x, q.y, q.z, q.w], "size": [size.x, size.y, size.z]})
    return {"stamp": seconds(message.header.stamp), "frame_id": message.header.frame_id, "detections": boxes}


def discovery_types(gid_bytes):
    """rmw_dds_common's ParticipantEntitiesInfo (Gid: 16 bytes from Iron on, 24 before)."""

    @dataclass
    class Gid_(IdlStruct, typename="rmw_dds_common::msg::dds_::Gid_"):
        data: array[uint8, gid_bytes]

    @dataclass
    class NodeEntitiesInfo_(IdlStruct, typename="rmw_dds_common::msg::dds_::NodeEntitiesInfo_"):
        node_namespace: str
        node_name: str
        reader_gid_seq: sequence[Gid_]
        writer_gid_seq: sequence[Gid_]

    @dataclass
    class ParticipantEntitiesInfo_(IdlStruct, typename="rmw_dds_common::msg::dds_::ParticipantEntitiesInfo_"):
        gid: Gid_
        node_entities_info_seq: sequence[NodeEntitiesInfo_]

    return ParticipantEntitiesInfo_


RELIABLE = Qos(Policy.Reliability.Reliable(duration(seconds=1)), Policy.History.KeepLast(100))
# What camera drivers publish camera_info with (ROS 2's sensor-data profile):
# only a best-effort reader matches it.
SENSOR_DATA = Qos(Policy.Reliability.BestEffort, Policy.History.KeepLast(5))
LATCHED = Qos(
    Policy.Reliability.Reliable(duration(seconds=1)),
    Policy.Durability.TransientLocal,
    Policy.History.KeepLast(1),
)


def seconds(stamp):
    return stamp.sec + stamp.nanosec * 1e-9


def wait_for_node(reader, name, timeout):
    """Names of the nodes seen on ros_discovery_info until `name` shows up."""
    seen = set()
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for sample in reader.take(N=100):
            for node in getattr(sample, "node_entities_info_seq", []):
                seen.add(node.node_namespace.rstrip("/") + "/" + node.node_name)
        if any(s.rsplit("/", 1)[-1] == name for s in seen):
            return sorted(seen)
        time.sleep(0.05)
    return sorted(seen)


def bag_messages(path, topics):
    """(topic, raw CDR) of the bag's messages on `topics`, in bag order."""
    with Reader(path) as reader:
        connections = [c for c in reader.connections if c.topic in topics]
        for connection, _, raw in reader.messages(connections=connections):
            yield connection.topic, bytes(raw)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--bag")
    source.add_argument("--listen", type=float, metavar="SECONDS")
    parser.add_argument("--node", default="cairn_slam")
    parser.add_argument("--hz", type=float, default=10.0)
    parser.add_argument("--settle", type=float, default=3.0)
    parser.add_argument("--timeout", type=float, default=20.0)
    parser.add_argument("--gid-bytes", type=int, default=16)
    parser.add_argument("--odometry-out")
    parser.add_argument("--detections", default="/detections")
    parser.add_argument("--detections-out")
    parser.add_argument("--expect", type=int, default=0, metavar="N")
    parser.add_argument("--rgb", default="/camera/rgb/image_color")
    parser.add_argument("--depth", default="/camera/depth/image")
    parser.add_argument("--info", default="/camera/rgb/camera_info")
    parser.add_argument("--odometry", default="/slam/odometry")
    args = parser.parse_args()

    participant = DomainParticipant(0)
    writers = {
        args.rgb: DataWriter(participant, Topic(participant, "rt" + args.rgb, Image_), qos=RELIABLE),
        args.depth: DataWriter(participant, Topic(participant, "rt" + args.depth, Image_), qos=RELIABLE),
        args.info: DataWriter(participant, Topic(participant, "rt" + args.info, CameraInfo_), qos=SENSOR_DATA),
    } if args.bag else {}
    types = {args.rgb: Image_, args.depth: Image_, args.info: CameraInfo_}
    odometry = DataReader(participant, Topic(participant, "rt" + args.odometry, Odometry_), qos=RELIABLE)
    tf = DataReader(participant, Topic(participant, "rt/tf", TFMessage_), qos=RELIABLE)
    detections = None
    if args.detections_out:
        detections = DataReader(
            participant, Topic(participant, "rt" + args.detections, Detection3DArray_), qos=RELIABLE
        )
    arrays = []
    discovery = DataReader(
        participant, Topic(participant, "ros_discovery_info", discovery_types(args.gid_bytes)), qos=LATCHED
    )

    nodes = wait_for_node(discovery, args.node, args.timeout)
    deadline = time.monotonic() + args.timeout
    while time.monotonic() < deadline and not all(w.get_matched_subscriptions() for w in writers.values()):
        time.sleep(0.05)
    matched = all(w.get_matched_subscriptions() for w in writers.values())

    poses, transforms = [], 0
    def collect():
        nonlocal transforms
        got = 0
        for sample in odometry.take(N=1000):
            if not isinstance(sample, Odometry_):
                continue  # an InvalidSample: a writer's lifecycle notice, not data
            p, q = sample.pose.pose.position, sample.pose.pose.orientation
            poses.append((seconds(sample.header.stamp), p.x, p.y, p.z, q.x, q.y, q.z, q.w))
            got += 1
        for sample in tf.take(N=1000):
            if not isinstance(sample, TFMessage_):
                continue
            transforms += sum(1 for t in sample.transforms if t.child_frame_id)
            got += 1
        for sample in detections.take(N=1000) if detections else ():
            if isinstance(sample, Detection3DArray_):
                arrays.append(detection_record(sample))
                got += 1
        return got

    frames, period, start = 0, 1.0 / args.hz, time.monotonic()
    while args.listen and time.monotonic() - start < args.listen:
        collect()
        if args.expect and len(arrays) >= args.expect:
            break
        time.sleep(0.01)
    for topic, raw in bag_messages(args.bag, set(writers)) if args.bag else ():
        if topic == args.rgb:
            time.sleep(max(0.0, start + frames * period - time.monotonic()))
            frames += 1
        writers[topic].write(types[topic].deserialize(raw))
        collect()
    last = time.monotonic()
    while time.monotonic() - last < args.settle:
        if collect():
            last = time.monotonic()
        time.sleep(0.02)

    if args.odometry_out:
        with open(args.odometry_out, "w") as out:
            for pose in sorted(poses):
                out.write(" ".join(f"{v:.9f}" for v in pose) + "\n")
    if args.detections_out:
        with open(args.detections_out, "w") as out:
            for record in arrays:
                out.write(json.dumps(record) + "\n")
    print(json.dumps({"frames": frames, "odometry": len(poses), "tf_transforms": transforms,
                      "detection_arrays": len(arrays), "nodes": nodes, "writers_matched": matched}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
