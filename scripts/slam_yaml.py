#!/usr/bin/env python3
"""Writes config/slam.yaml from slam/src/config.rs: every SlamConfig group
and field under its dotted name, with its default and its doc comment.

Run from anywhere after changing a field, its doc or its default:
    python3 scripts/slam_yaml.py
slam/tests/config_file.rs checks the result (parses to exactly
SlamConfig::default(), every parameter listed with a comment).
Defaults are read from each group's `impl Default` literal; a default that
is an expression other than `a / b` must be written out by hand.
"""
import pathlib
import re
import textwrap

ROOT = pathlib.Path(__file__).resolve().parent.parent
SOURCE = (ROOT / "slam/src/config.rs").read_text()

HEADER = """\
# cairn-slam parameters in the ROS 2 parameter-file format, read alike by
# `cairn slam --config`, the node's `--params` and `ros2 launch`.
# Every value here is the default (a test checks that this file parses to
# exactly SlamConfig::default() and lists every parameter); the comments are
# the field docs of slam/src/config.rs (scripts/slam_yaml.py writes this
# file). Nested maps under ros__parameters are the same dotted names;
# `/**:` instead of `cairn_slam:` addresses every node.
cairn_slam:
  ros__parameters:"""


def doc_text(block):
    return " ".join(line.strip()[3:].strip() for line in block.strip().splitlines())


def struct_body(name):
    return re.search(r"pub struct %s \{(.*?)\n\}" % name, SOURCE, re.S).group(1)


def fields(name):
    """(doc, field, type) of each field of struct `name`."""
    return re.findall(r"((?:\s*///[^\n]*\n)+)\s*pub (\w+): (\w+),", struct_body(name))


def value(expr, ty):
    expr = expr.strip()
    if re.fullmatch(r"[\d.]+ / [\d.]+", expr):
        a, b = expr.split(" / ")
        expr = repr(float(a) / float(b))
    if re.fullmatch(r"\d+e-?\d+", expr):
        expr = expr.replace("e", ".0e")  # a float in YAML 1.1 and 1.2
    if ty in ("f32", "f64") and "." not in expr:
        expr += ".0"
    return expr


def main():
    out = [HEADER]
    for _, group, struct in fields("SlamConfig"):
        struct_doc = re.search(r"((?:///[^\n]*\n)+)(?:#\[[^\n]*\n)*pub struct %s\b" % struct, SOURCE).group(1)
        out += ["", *("    # " + l for l in textwrap.wrap(f"{group}: {doc_text(struct_doc)}", 74))]
        literal = re.search(r"impl Default for %s \{.*?%s \{(.*?)\}\s*\}\s*\}" % (struct, struct), SOURCE, re.S)
        defaults = dict(re.findall(r"(\w+):\s*([^,]+)", literal.group(1)))
        for doc, field, ty in fields(struct):
            out += ["", *("    # " + l for l in textwrap.wrap(doc_text(doc), 74))]
            out.append(f"    {group}.{field}: {value(defaults[field], ty)}")
    (ROOT / "config/slam.yaml").write_text("\n".join(out) + "\n")


if __name__ == "__main__":
    main()
