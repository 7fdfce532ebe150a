"""Time rosbags on a bag, for bags/benches/bag_vs_rosbags.rs: `info` opens the
bag and reads its metadata and per-topic counts; `decode` reads and
deserialises every message. Prints {"seconds": S, "messages": N}."""

import json
import sys
import time
from pathlib import Path

from rosbags.rosbag2 import Reader
from rosbags.typesys import Stores, get_typestore


def main(mode: str, bag: str) -> None:
    store = get_typestore(Stores.ROS2_JAZZY)
    start = time.perf_counter()
    count = 0
    with Reader(Path(bag)) as reader:
        if mode == "info":
            count = sum(c.msgcount for c in reader.connections)
        else:
            for connection, _, data in reader.messages():
                store.deserialize_cdr(data, connection.msgtype)
                count += 1
    print(json.dumps({"seconds": time.perf_counter() - start, "messages": count}))


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
