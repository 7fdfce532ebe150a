"""Print an evo result zip (from `evo_ape/evo_rpe --save_results`) as one
JSON object: evo's full-precision statistics plus `pairs`, the length of its
error array. Used by tests/tests/evo_oracle.rs; runs in the project's venv."""

import io
import json
import sys
import zipfile

import numpy as np


def main(path: str) -> None:
    with zipfile.ZipFile(path) as archive:
        stats = json.loads(archive.read("stats.json"))
        errors = np.load(io.BytesIO(archive.read("error_array.npy")))
    stats["pairs"] = int(errors.size)
    print(json.dumps(stats))


if __name__ == "__main__":
    main(sys.argv[1])
