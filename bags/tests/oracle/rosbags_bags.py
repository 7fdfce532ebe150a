"""rosbags (PyPI) as the oracle for rosbag2 storage, driven by
bags/tests/rosbags_storage.rs.

  write DIR mcap|sqlite3   write a bag with rosbags; print its messages
  read BAG                 read a bag with rosbags (deserialising every
                           message); print its messages and metadata

Messages are printed as one JSON object: {"messages": [{"topic", "type",
"timestamp", "sha256"}], "count": N, "start": ns, "end": ns}.
"""

import hashlib
import json
import sys
from pathlib import Path

import numpy as np
from rosbags.rosbag2 import Reader, StoragePlugin, Writer
from rosbags.typesys import Stores, get_typestore

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
        for connection, timestamp, data in reader.messages():
            STORE.deserialize_cdr(data, connection.msgtype)  # must decode intact
            out.append({"topic": connection.topic, "type": connection.msgtype,
                        "timestamp": timestamp, "sha256": hashlib.sha256(data).hexdigest()})
        result = describe(out)
        result["metadata_count"] = reader.message_count
        result["metadata_start"] = reader.start_time
        result["metadata_end"] = reader.end_time
    print(json.dumps(result))


if __name__ == "__main__":
    if sys.argv[1] == "write":
        write(sys.argv[2], sys.argv[3])
    else:
        read(sys.argv[2])
