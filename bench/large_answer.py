#!/usr/bin/python3
"""An answer past 2^27 pairs: a self-join of n identical +-1 rows, n (n - 1) / 2 heavy pairs.

    bench/large_answer.py [--n 16400] [--d 64] [--ranks 2] [--method brute] [--dir bench-data]
                          [--distinct] [--baseline] [-- extra hipi solve options]

Identical rows are collapsed to one before any method runs and their pairs made while the
output is written. --distinct makes the rows all different (row r has the bits of r in its
last 16 coordinates flipped to -1; n <= 65536, d >= 64), so every pair is still heavy at
rho 0.5 (<a_i, a_j> = d - 2 popcount(i ^ j) >= d - 32) but the method finds and the sort
orders each one.

Writes the rows (h5py), runs hipi solve under mpirun, and checks the output file in
pieces: n (n - 1) / 2 pairs, each with 0 <= i < j < n, strictly increasing in (i, j) (so
every pair exactly once), every inner product d. Prints wall time, hipi's stage times and
peak RSS per rank (from --report). --baseline runs the solve without the extra options
first (e.g. in memory against `-- --memory-mib 1536`, spilled) and prints the ratios. At n = 16400: 134,471,800 pairs (2^27 = 134,217,728),
3.2 GB of pairs in all. Needs HIPI_BUILD (default build/) and scripts/env.sh's environment.
"""
import argparse
import json
import os
import subprocess
import sys
import time

import h5py
import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def expected_ip(p, d, distinct):
    if not distinct:
        return d
    x = np.bitwise_xor(p[:, 0], p[:, 1])
    bits = np.zeros(len(x), dtype=np.int64)
    for b in range(16):
        bits += (x >> b) & 1
    return d - 2 * bits


def check_output(path, n, d, distinct):
    """Raises AssertionError unless the file holds every pair i < j once, in order."""
    want = n * (n - 1) // 2
    with h5py.File(path, "r") as f:
        pairs, ips = f["pairs"], f["inner_products"]
        assert pairs.shape == (want, 2), f"{pairs.shape[0]} pairs, want {want}"
        last = None
        piece = 1 << 24
        for at in range(0, want, piece):
            p = pairs[at:at + piece].astype(np.int64)
            assert (ips[at:at + piece] == expected_ip(p, d, distinct)).all(), f"a wrong inner product near pair {at}"
            assert ((0 <= p[:, 0]) & (p[:, 0] < p[:, 1]) & (p[:, 1] < n)).all(), f"a pair out of range near {at}"
            key = p[:, 0] * n + p[:, 1]
            if last is not None:
                key = np.concatenate(([last], key))
            assert (np.diff(key) > 0).all(), f"pairs not strictly increasing near {at}"
            last = key[-1]


def solve(a, data, extra):
    """Runs hipi solve on `data` with `extra` options, checks the file, returns the figures."""
    out, report = os.path.join(a.dir, "identical-out.h5"), os.path.join(a.dir, "identical-report.json")
    hipi = os.path.join(os.environ.get("HIPI_BUILD", os.path.join(ROOT, "build")), "hipi")
    cmd = ["mpirun", "-np", str(a.ranks), "--oversubscribe", hipi, "solve", "--a", data, "--rho", "0.5",
           "--method", a.method, "--out", out, "--report", report] + extra
    start = time.perf_counter()
    subprocess.run(cmd, check=True)
    wall = time.perf_counter() - start
    r = json.load(open(report))
    start = time.perf_counter()
    check_output(out, a.n, a.d, a.distinct)
    checked = time.perf_counter() - start
    figures = {"n": a.n, "d": a.d, "distinct": a.distinct, "ranks": a.ranks, "method": r["method"],
               "options": extra, "pairs": r["pairs"], "wall_s": round(wall, 2), "check_s": round(checked, 2),
               "stages_max_s": {k: round(v["max"], 3) for k, v in r["timings"].items()},
               "peak_rss_mib": r["peak_rss_mib"], "memory": r["memory"], "output_bytes": os.path.getsize(out)}
    os.remove(out)
    return figures


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--n", type=int, default=16400)
    p.add_argument("--d", type=int, default=64)
    p.add_argument("--ranks", type=int, default=2)
    p.add_argument("--method", default="brute")
    p.add_argument("--dir", default="bench-data")
    p.add_argument("--distinct", action="store_true", help="rows all different (see above)")
    p.add_argument("--baseline", action="store_true",
                   help="first the same solve without the extra options (in memory, the default budget), then the ratios")
    p.add_argument("extra", nargs="*", help="more hipi solve options (after --)")
    a = p.parse_args()
    os.makedirs(a.dir, exist_ok=True)
    data = os.path.join(a.dir, f"{'distinct' if a.distinct else 'identical'}-{a.n}-{a.d}.h5")
    if not os.path.exists(data):
        rows = np.ones((a.n, a.d), dtype=np.int8)
        if a.distinct:
            assert a.n <= 1 << 16 and a.d >= 64
            for b in range(16):
                rows[(np.arange(a.n) >> b) & 1 == 1, a.d - 1 - b] = -1
        with h5py.File(data, "w") as f:
            f.create_dataset("A", data=rows)
    runs = [solve(a, data, [])] if a.baseline else []
    runs.append(solve(a, data, a.extra))
    for r in runs:
        print(json.dumps(r))
    if a.baseline:
        base, this = runs
        print(json.dumps({"baseline": "the same solve with the default budget, this run",
                          "wall_ratio": round(this["wall_s"] / base["wall_s"], 2),
                          "peak_rss_ratio": round(this["peak_rss_mib"]["max"] / base["peak_rss_mib"]["max"], 3)}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
