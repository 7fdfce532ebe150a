"""rosbags (PyPI) as the CDR oracle for cairn's message types, driven by
bags/tests/rosbags_cdr.rs.

  rosbags_cdr.py CASES.json OUT.json

CASES.json holds {"cases": [{"key", "distro", "type", "value", "cairn_le",
"cairn_be", "definition"}]}: a unique key, the ROS 2 distribution (humble
or jazzy), a ROS type name, field values as JSON (cairn's serde names,
which are the .msg names), the hex CDR cairn wrote for them (little- and
big-endian, with the encapsulation header) and cairn's full ros2msg
definition. For each case this script

  * builds the message in rosbags' typestore for the distribution and
    serialises it little- and big-endian (``serialize_cdr``),
  * deserialises cairn's bytes with rosbags and compares them with the
    message built from the values,
  * parses cairn's definition text with rosbags' .msg parser and compares
    every type in it with the typestore's own definition,

and writes [{"key", "le", "be", "reads_cairn", "definition"}] to OUT.json,
where ``reads_cairn`` and ``definition`` are null when they agree and a
description of the difference otherwise. A case that fails as a whole gets
an "error" instead.

vision_msgs is not in rosbags' stores: its 4.x definitions (upstream
ros-perception/vision_msgs, ROS 2 branch) are registered from the texts
below, an independent copy of upstream, not cairn's.
"""

import json
import sys

import numpy as np
from rosbags.interfaces import Nodetype
from rosbags.typesys import Stores, get_types_from_msg, get_typestore

VISION_MSGS = {
    "vision_msgs/msg/ObjectHypothesis": "string class_id\nfloat64 score\n",
    "vision_msgs/msg/ObjectHypothesisWithPose": (
        "ObjectHypothesis hypothesis\ngeometry_msgs/PoseWithCovariance pose\n"
    ),
    "vision_msgs/msg/BoundingBox3D": "geometry_msgs/Pose center\ngeometry_msgs/Vector3 size\n",
    "vision_msgs/msg/Detection3D": (
        "std_msgs/Header header\nObjectHypothesisWithPose[] results\nBoundingBox3D bbox\nstring id\n"
    ),
    "vision_msgs/msg/Detection3DArray": "std_msgs/Header header\nDetection3D[] detections\n",
}

NUMPY = {
    "bool": np.bool_,
    "byte": np.uint8,
    "char": np.uint8,
    "int8": np.int8,
    "uint8": np.uint8,
    "int16": np.int16,
    "uint16": np.uint16,
    "int32": np.int32,
    "uint32": np.uint32,
    "int64": np.int64,
    "uint64": np.uint64,
    "float32": np.float32,
    "float64": np.float64,
}


def typestore(distro):
    store = get_typestore({"humble": Stores.ROS2_HUMBLE, "jazzy": Stores.ROS2_JAZZY}[distro])
    types = {}
    for name, text in VISION_MSGS.items():
        types.update(get_types_from_msg(text, name))
    store.register(types)
    return store


def build(store, typename, value):
    """The rosbags message of `typename` holding the JSON `value`."""
    _, fields = store.fielddefs[typename]
    kwargs = {name: build_field(store, desc, value[name]) for name, desc in fields}
    return store.types[typename](**kwargs)


def build_field(store, desc, value):
    kind, rest = desc
    if kind == Nodetype.NAME:
        return build(store, rest, value)
    if kind == Nodetype.BASE:
        base = rest[0]
        if base == "string":
            return str(value)
        if base == "bool":
            return bool(value)
        if base in ("float32", "float64"):
            # float32 values go through float32 so they compare equal to
            # what deserialisation returns.
            return float(NUMPY[base](value))
        return int(value)
    (sub_kind, sub_rest), _ = rest
    if sub_kind == Nodetype.BASE and sub_rest[0] != "string":
        return np.array(value, dtype=NUMPY[sub_rest[0]])
    return [build_field(store, (sub_kind, sub_rest), v) for v in value]


def difference(store, typename, want, got, path=""):
    """None when the two messages are equal, else where they differ."""
    _, fields = store.fielddefs[typename]
    for name, desc in fields:
        where = f"{path}.{name}" if path else name
        problem = field_difference(store, desc, getattr(want, name), getattr(got, name), where)
        if problem:
            return problem
    return None


def field_difference(store, desc, want, got, where):
    kind, rest = desc
    if kind == Nodetype.NAME:
        return difference(store, rest, want, got, where)
    if kind == Nodetype.BASE:
        return None if want == got else f"{where}: expected {want!r}, read {got!r}"
    (sub_kind, sub_rest), _ = rest
    if sub_kind == Nodetype.BASE and sub_rest[0] != "string":
        same = np.array_equal(np.asarray(want), np.asarray(got)) and np.asarray(got).dtype == np.asarray(want).dtype
        return None if same else f"{where}: expected {np.asarray(want)!r}, read {np.asarray(got)!r}"
    if len(want) != len(got):
        return f"{where}: expected {len(want)} elements, read {len(got)}"
    for i, (w, g) in enumerate(zip(want, got)):
        problem = field_difference(store, (sub_kind, sub_rest), w, g, f"{where}[{i}]")
        if problem:
            return problem
    return None


def definition_difference(store, typename, text):
    """None when rosbags parses cairn's definition into the store's types."""
    parsed = get_types_from_msg(text, typename)
    if typename not in parsed:
        return f"{typename} is not defined by its own definition text"
    for name, (consts, fields) in parsed.items():
        if name not in store.fielddefs:
            return f"the definition defines {name}, unknown to rosbags"
        want_consts, want_fields = store.fielddefs[name]
        if list(fields) != list(want_fields):
            return f"{name}: fields {fields} differ from rosbags' {want_fields}"
        if sorted(consts) != sorted(want_consts):
            return f"{name}: constants {consts} differ from rosbags' {want_consts}"
    return None


def run_case(store, case):
    typename = case["type"]
    msg = build(store, typename, case["value"])
    out = {
        "key": case["key"],
        "le": bytes(store.serialize_cdr(msg, typename, little_endian=True)).hex(),
        "be": bytes(store.serialize_cdr(msg, typename, little_endian=False)).hex(),
        "reads_cairn": None,
        "definition": definition_difference(store, typename, case["definition"]),
    }
    for order in ("cairn_le", "cairn_be"):
        try:
            read = store.deserialize_cdr(bytes.fromhex(case[order]), typename)
            problem = difference(store, typename, msg, read)
        except Exception as exc:  # noqa: BLE001 - reported to the Rust test
            problem = f"rosbags cannot read it: {exc!r}"
        if problem:
            out["reads_cairn"] = f"{order}: {problem}"
            break
    return out


def main(cases_path, out_path):
    stores = {distro: typestore(distro) for distro in ("humble", "jazzy")}
    with open(cases_path, encoding="utf-8") as f:
        cases = json.load(f)["cases"]
    results = []
    for case in cases:
        try:
            results.append(run_case(stores[case["distro"]], case))
        except Exception as exc:  # noqa: BLE001 - reported to the Rust test
            results.append({"key": case["key"], "error": repr(exc)})
    with open(out_path, "w", encoding="utf-8") as f:
        json.dump(results, f)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
