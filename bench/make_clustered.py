#!/usr/bin/python3
"""Writes a binary near-duplicate instance: clusters of rows that are noisy copies of a base
row, of sizes from --min-size to --max-size (log-uniform), scattered over random rows, plus
optionally a block of identical rows; everything else uniform +-1. Clusters share their
base between A and B (two-sided) or live inside A (--self-join). Each member flips each
coordinate of the base with probability --flip, so two members have inner product about
d (1 - 2 flip)^2. The truth is whatever brute force finds: this file plants no truth list.

  bench/make_clustered.py --out c.h5 --n 131072 --d 256 --clusters 64 --max-size 500 \
      --flip 0.05 [--identical 200] [--self-join] [--seed 1]
"""
import argparse

import h5py
import numpy as np


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", required=True)
    ap.add_argument("--n", type=int, required=True)
    ap.add_argument("--d", type=int, required=True)
    ap.add_argument("--clusters", type=int, default=32)
    ap.add_argument("--min-size", type=int, default=2)
    ap.add_argument("--max-size", type=int, default=64)
    ap.add_argument("--flip", type=float, default=0.05)
    ap.add_argument("--identical", type=int, default=0, help="rows of one block of identical rows")
    ap.add_argument("--self-join", action="store_true")
    ap.add_argument("--seed", type=int, default=1)
    a = ap.parse_args()
    rng = np.random.default_rng(a.seed)
    sizes = np.exp(rng.uniform(np.log(a.min_size), np.log(a.max_size + 1), a.clusters)).astype(np.int64)
    sizes = np.clip(sizes, a.min_size, a.max_size)
    bases = rng.choice(np.array([-1, 1], np.int8), size=(a.clusters + 1, a.d))

    def side():
        m = rng.choice(np.array([-1, 1], np.int8), size=(a.n, a.d))
        rows = rng.permutation(a.n)
        at = 0
        for c, size in enumerate(sizes):
            members = rows[at:at + size]
            at += size
            flips = rng.random((size, a.d)) < a.flip
            m[members] = np.where(flips, -bases[c], bases[c])
        if a.identical:
            m[rows[at:at + a.identical]] = bases[-1]
            at += a.identical
        assert at <= a.n, "clusters need more rows than --n"
        return m

    with h5py.File(a.out, "w") as f:
        f["A"] = side()
        if not a.self_join:
            f["B"] = side()
    print(f"{a.out}: clusters of sizes {sorted(sizes.tolist())}" + (f" and {a.identical} identical rows" if a.identical else ""))


if __name__ == "__main__":
    main()
