#!/usr/bin/env python3
"""The write floor: create N small files (the size of compiled targets) in a new directory.

    write_floor.py DIR [N]

A bundle of 10,000 targets is 10,000 files; on some disks creating them costs
more than compiling them, so the harness measures it beside the builds.
"""

from __future__ import annotations

import os
import shutil
import sys


def main(root: str, n: int) -> int:
    shutil.rmtree(root, ignore_errors=True)
    os.makedirs(root)
    data = b"x" * 1200
    for i in range(n):
        with open(os.path.join(root, f"t{i:06}.json"), "wb") as f:
            f.write(data)
    print(f"{n} files written")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], int(sys.argv[2]) if len(sys.argv) > 2 else 10_000))
