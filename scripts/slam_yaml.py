#!/usr/bin/env python3
"""Writes config/slam.yaml from slam/src/config.rs and nodes/src/ros/params.rs:
every SlamConfig group and field, then the ROS 2 node's own groups
(NodeParams: topics, frames, node), under dotted names with their defaults
and doc comments.

Run from anywhere after changing a field, its doc or its default:
    python3 scripts/slam_yaml.py
slam/tests/config_file.rs and nodes/tests/config_file.rs check the result
(parses to exactly the defaults, every parameter listed with a comment).
Defaults are read from each group's `impl Default` literal; a default that
is an expression other than `a / b` must be written out by hand.
"""
import pathlib
import re
import textwrap

ROOT = pathlib.Path(__file__).resolve().parent.parent
SLAM_SOURCE = (ROOT / "slam/src/config.rs").read_text()
NODE_SOURCE = (ROOT / "nodes/src/ros/params.rs").read_text()

HEADER = """\
# cairn-slam parameters in the ROS 2 parameter-file format, read alike by
# `cairn slam --config`, the node's `--params` and `ros2 launch`.
# Every value here is the default (a test checks that this file parses to
# exactly SlamConfig::default() and lists every parameter); the comments are
# the field docs of slam/src/config.rs (scripts/slam_yaml.py writes this
# file). Nested maps under ros__parameters are the same dotted names;
# `/**:` instead of `cairn_slam:` addresses every node. The last groups
# (topics, frames, node) are the ROS 2 node's own (`cairn node slam`,
# `cairn replay`; nodes/src/ros/params.rs); `cairn slam` ignores them.
cairn_slam:
  ros__parameters:"""


def doc_text(block):
    return " ".join(line.strip()[3:].strip() for line in block.strip().splitlines())


def struct_body(source, name):
    return re.search(r"pub struct %s \{(.*?)\n\}" % name, source, re.S).group(1)


def fields(source, name):
    """(doc, field, type) of each field of struct `name`."""
    return re.findall(r"((?:\s*///[^\n]*\n)+)\s*pub (\w+): (\w+),", struct_body(source, name))


def value(expr, ty):
    expr = expr.strip()
    text = re.fullmatch(r'("[^"]*")\.into\(\)', expr)
    if text:
        return text.group(1)
    if re.fullmatch(r"[\d.]+ / [\d.]+", expr):
        a, b = expr.split(" / ")
        expr = repr(float(a) / float(b))
    if re.fullmatch(r"\d+e-?\d+", expr):
        expr = expr.replace("e", ".0e")  # a float in YAML 1.1 and 1.2
    if ty in ("f32", "f64") and "." not in expr:
        expr += ".0"
    return expr


def groups(source, root):
    """The YAML lines of every group of struct `root` in `source`."""
    out = []
    for _, group, struct in fields(source, root):
        struct_doc = re.search(r"((?:///[^\n]*\n)+)(?:#\[[^\n]*\n)*pub struct %s\b" % struct, source).group(1)
        out += ["", *("    # " + l for l in textwrap.wrap(f"{group}: {doc_text(struct_doc)}", 74))]
        literal = re.search(r"impl Default for %s \{.*?%s \{(.*?)\}\s*\}\s*\}" % (struct, struct), source, re.S)
        defaults = dict(re.findall(r"(\w+):\s*([^,]+)", literal.group(1)))
        for doc, field, ty in fields(source, struct):
            out += ["", *("    # " + l for l in textwrap.wrap(doc_text(doc), 74))]
            out.append(f"    {group}.{field}: {value(defaults[field], ty)}")
    return out


def main():
    out = [HEADER, *groups(SLAM_SOURCE, "SlamConfig"), *groups(NODE_SOURCE, "NodeParams")]
    (ROOT / "config/slam.yaml").write_text("\n".join(out) + "\n")


if __name__ == "__main__":
    main()
