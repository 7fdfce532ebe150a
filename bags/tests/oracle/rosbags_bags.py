"""rosbags (PyPI) as the oracle for rosbag2 storage, driven by
bags/tests/rosbags_storage.rs.

  write DIR mcap|sqlite3   write a bag with rosbags; print its messages
  read BAG                 read a bag with rosbags (deserialising every
                           message; types rosbags lacks come from the
                           bag's definitions); print its messages and metadata
  write-ros1 FILE.bag      write a ROS 1 bag shaped like TUM RGB-D's (/tf as
                           tf/tfMessage, an rgb8 image topic)

Messages are printed as one JSON object: {"messages": [{"topic", "type",
"timestamp", "sha256"}], "count": N, "start": ns, "end": ns}.
"""

import hashlib
import json
import sys
from pathlib import Path

import numpy as np
from rosbags.rosbag2 import Reader, StoragePlugin, Writer
from rosbags.typesys import Stores, get_types_from_msg, get_typestore

STORE = get_typestore(Stores.ROS2_JAZZY)


def describe(messages):
    stamps = [m["timestamp"] for m in messages]
    return {
        "messages": messages,
        "count": len(messages),
        "start": min(stamps) if stamps else 0,
        "end": max(stamps) if stamps else 0,
    }


def write(directory: str, storage: str) -> None:
    plugin = StoragePlugin.MCAP if storage == "mcap" else StoragePlugin.SQLITE3
    String = STORE.types["std_msgs/msg/String"]
    Image = STORE.types["sensor_msgs/msg/Image"]
    Header = STORE.types["std_msgs/msg/Header"]
    Time = STORE.types["builtin_interfaces/msg/Time"]
    rng = np.random.default_rng(7)
    out = []
    with Writer(directory, version=9, storage_plugin=plugin) as writer:
        chatter = writer.add_connection("/chatter", "std_msgs/msg/String", typestore=STORE)
        camera = writer.add_connection("/camera/image", "sensor_msgs/msg/Image", typestore=STORE)
        for i in range(40):
            t = 1_700_000_000_000_000_000 + i * 33_000_000
            data = STORE.serialize_cdr(String(data="hello %d" % i * (i % 5)), "std_msgs/msg/String")
            writer.write(chatter, t, data)
            out.append({"topic": "/chatter", "type": "std_msgs/msg/String", "timestamp": t,
                        "sha256": hashlib.sha256(data).hexdigest()})
            if i % 4 == 0:
                pixels = rng.integers(0, 255, size=(12 * 16 * 3,), dtype=np.uint8)
                stamp = Time(sec=t // 10**9, nanosec=t % 10**9)
                image = Image(header=Header(stamp=stamp, frame_id="cam"), height=12, width=16,
                              encoding="rgb8", is_bigendian=0, step=48, data=pixels)
                data = STORE.serialize_cdr(image, "sensor_msgs/msg/Image")
                writer.write(camera, t + 1000, data)
                out.append({"topic": "/camera/image", "type": "sensor_msgs/msg/Image",
                            "timestamp": t + 1000, "sha256": hashlib.sha256(data).hexdigest()})
    out.sort(key=lambda m: m["timestamp"])
    print(json.dumps(describe(out)))


def read(bag: str) -> None:
    out = []
    with Reader(Path(bag)) as reader:
        # Types outside rosbags' store (vision_msgs) are registered from the
        # bag's own ros2msg definitions, as a user of rosbags would.
        for connection in reader.connections:
            if connection.msgtype not in STORE.fielddefs and connection.msgdef.data:
                STORE.register(get_types_from_msg(connection.msgdef.data, connection.msgtype))
        for connection, timestamp, data in reader.messages():
            STORE.deserialize_cdr(data, connection.msgtype)  # must decode intact
            out.append({"topic": connection.topic, "type": connection.msgtype,
                        "timestamp": timestamp, "sha256": hashlib.sha256(data).hexdigest()})
        result = describe(out)
        result["metadata_count"] = reader.message_count
        result["metadata_start"] = reader.start_time
        result["metadata_end"] = reader.end_time
    print(json.dumps(result))


def write_ros1(path: str) -> None:
    from rosbags.rosbag1 import Writer as Writer1

    store = get_typestore(Stores.ROS1_NOETIC)
    store.register(get_types_from_msg("geometry_msgs/TransformStamped[] transforms", "tf/msg/tfMessage"))
    TfMessage = store.types["tf/msg/tfMessage"]
    Stamped = store.types["geometry_msgs/msg/TransformStamped"]
    Transform = store.types["geometry_msgs/msg/Transform"]
    Vector3 = store.types["geometry_msgs/msg/Vector3"]
    Quaternion = store.types["geometry_msgs/msg/Quaternion"]
    Header = store.types["std_msgs/msg/Header"]
    Time = store.types["builtin_interfaces/msg/Time"]
    Image = store.types["sensor_msgs/msg/Image"]
    out = []
    with Writer1(path) as writer:
        tf = writer.add_connection("/tf", "tf/msg/tfMessage", typestore=store)
        rgb = writer.add_connection("/camera/rgb/image_color", "sensor_msgs/msg/Image", typestore=store)
        for i in range(30):
            t = 1_305_031_102_000_000_000 + i * 10_000_000
            stamp = Time(sec=t // 10**9, nanosec=t % 10**9)
            transform = Transform(translation=Vector3(x=1.0 + i * 0.01, y=-0.5, z=1.5),
                                  rotation=Quaternion(x=0.0, y=0.0, z=0.0, w=1.0))
            message = TfMessage(transforms=[Stamped(header=Header(seq=i, stamp=stamp, frame_id="/world"),
                                                    child_frame_id="/kinect", transform=transform)])
            writer.write(tf, t, store.serialize_ros1(message, "tf/msg/tfMessage"))
            out.append({"topic": "/tf", "timestamp": t, "x": 1.0 + i * 0.01})
            if i % 3 == 0:
                image = Image(header=Header(seq=i, stamp=stamp, frame_id="/openni_rgb_optical_frame"),
                              height=2, width=3, encoding="rgb8", is_bigendian=0, step=9,
                              data=np.arange(18, dtype=np.uint8))
                writer.write(rgb, t + 1, store.serialize_ros1(image, "sensor_msgs/msg/Image"))
                out.append({"topic": "/camera/rgb/image_color", "timestamp": t + 1})
    print(json.dumps({"messages": out, "count": len(out)}))


if __name__ == "__main__":
    if sys.argv[1] == "write":
        write(sys.argv[2], sys.argv[3])
    elif sys.argv[1] == "write-ros1":
        write_ros1(sys.argv[2])
    else:
        read(sys.argv[2])
