#!/usr/bin/env python3
"""Sparse TF-IDF near-duplicates at cosine >= tau: hipi's sparse join against scipy's blocked
sparse product, in one run, each checked against a float64 truth.

    source scripts/env.sh
    bench/sparse.py --dir sparse-data [--rows 95000] [--tau 0.5 0.7 0.8 0.9] [--max-features N]

The vectors are TF-IDF of real text made on this machine: the paragraphs bench/embeddings.py
reads (the text Debian ships), word unigrams and bigrams
(scikit-learn's TfidfVectorizer), unit rows in float32; made once into DIR/tfidf-N.h5 as a
CSR group /X (encoding-type csr_matrix: generated, never committed).

What a user writes instead: scipy's CSR product in blocks of 4096 rows against the rows
from the block on, thresholded (one process; scipy's sparse product is single-threaded).
It is run once in float64 with the lowest tau: its time is what each tau costs that way,
and its float64 values are the truth every tau is scored against (hipi's values are
float32 products summed in float64: equal to the truth's to about 1e-15). hipi runs as a
user would: mpirun -np RANKS hipi solve --cosine (auto, then --method sparse). With
--max-features N (the N most frequent words and bigrams, as TfidfVectorizer's option) d is
small enough to densify, and hipi's brute force on the densified rows runs too (what auto
weighs the sparse join against).
"""
import argparse
import json
import os
import subprocess
import sys
import time

import h5py
import numpy as np
import scipy.sparse as sp

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from embeddings import paragraphs  # noqa: E402  (the same text)


def write_csr(path, name, x):
    with h5py.File(path, "a") as f:
        g = f.create_group(name)
        g.attrs["encoding-type"] = "csr_matrix"
        g.attrs["encoding-version"] = "0.1.0"
        g.attrs["shape"] = np.array(x.shape, dtype=np.int64)
        g["data"], g["indices"], g["indptr"] = x.data, x.indices, x.indptr


def make(path, n, max_features):
    from sklearn.feature_extraction.text import TfidfVectorizer

    texts = paragraphs()
    order = np.random.default_rng(7).permutation(len(texts))[:n]
    t = time.time()
    x = TfidfVectorizer(ngram_range=(1, 2), max_features=max_features, dtype=np.float32).fit_transform([texts[k] for k in order])
    x = sp.csr_matrix(x[np.diff(x.indptr) > 0])  # rows without a kept word have no cosine
    x.sort_indices()
    write_csr(path, "X", x)
    print(f"made {path}: {x.shape[0]} x {x.shape[1]}, {x.nnz} entries ({x.nnz / x.shape[0]:.0f} per row) from "
          f"{len(texts)} paragraphs in {time.time() - t:.0f} s", file=sys.stderr)


def read_csr(path):
    with h5py.File(path, "r") as f:
        g = f["X"]
        return sp.csr_matrix((g["data"][...], g["indices"][...], g["indptr"][...]), shape=tuple(g.attrs["shape"]))


def scipy_pairs(x, tau, block=4096):
    """Blocked sparse product, pairs i < j with x_i . x_j >= tau: (keys, values)."""
    n = x.shape[0]
    keys, vals = [], []
    for r0 in range(0, n, block):
        c = (x[r0:r0 + block] @ x[r0:].T).tocoo()
        i, j = c.row + r0, c.col + r0
        keep = (j > i) & (c.data >= tau)
        keys.append(i[keep].astype(np.int64) * n + j[keep])
        vals.append(c.data[keep])
    k = np.concatenate(keys)
    order = np.argsort(k)
    return k[order], np.concatenate(vals)[order]


def run_hipi(args, data, tau, method):
    out = os.path.join(args.dir, f"hipi-{method}-{tau}.h5")
    report = out + ".json"
    cmd = ["mpirun", "-np", str(args.ranks), "--oversubscribe", args.hipi, "solve", "--a", f"{data}:/X", "--tau",
           str(tau), "--cosine", "--method", method, "--out", out, "--report", report]
    t = time.time()
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wall = time.time() - t
    with h5py.File(out, "r") as f:
        p = f["pairs"][...]
        params = json.loads(f.attrs["parameters"])
    os.remove(out)
    with open(report) as f:
        rep = json.load(f)
    os.remove(report)
    stages = {k: round(v["max"], 2) for k, v in rep["timings"].items()}
    return wall, p, rep["method"], stages, round(rep["peak_rss_mib"]["max"]), params


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--dir", required=True)
    ap.add_argument("--rows", type=int, default=95000)
    ap.add_argument("--tau", type=float, nargs="+", default=[0.5, 0.7, 0.8, 0.9])
    ap.add_argument("--ranks", type=int, default=2)
    ap.add_argument("--max-features", type=int, default=None)
    ap.add_argument("--hipi", default=os.path.join(HERE, "..", "build", "hipi"))
    args = ap.parse_args()
    os.makedirs(args.dir, exist_ok=True)
    suffix = f"-{args.max_features}" if args.max_features else ""
    data = os.path.join(args.dir, f"tfidf-{args.rows}{suffix}.h5")
    if not os.path.exists(data):
        make(data, args.rows, args.max_features)
    x = read_csr(data)
    n, d = x.shape
    dense = 4.0 * n * d <= 4 * 2**30
    print(f"{n} x {d} TF-IDF rows, {x.nnz} entries ({x.nnz / n:.0f} per row); densified: "
          f"{4.0 * n * d / 2**30:.1f} GiB" + ("" if dense else " (not run on this machine)"))
    t = time.time()
    truth_keys, truth_vals = scipy_pairs(x.astype(np.float64), min(args.tau))
    scipy_wall = time.time() - t
    print(f"scipy blocked CSR product (float64, one process): {scipy_wall:.1f} s, the same for every tau")
    print(f"{'tau':>5} {'method':<14} {'wall s':>8} {'pairs':>9} {'extra':>6} {'missing':>7} {'scipy/x':>8}  stages")
    for tau in args.tau:
        want = truth_keys[truth_vals >= tau]
        print(f"{tau:>5} {'scipy-csr':<14} {scipy_wall:>8.2f} {len(want):>9} {0:>6} {0:>7} {1:>8.2f}")
        for method in ["auto", "sparse"] + (["brute"] if dense else []):
            wall, p, ran, stages, peak, params = run_hipi(args, data, tau, method)
            if method == "sparse":
                join, join_peak = params, peak
            found = np.unique(p[:, 0].astype(np.int64) * n + p[:, 1])
            extra = len(np.setdiff1d(found, want, assume_unique=True))
            missing = len(np.setdiff1d(want, found, assume_unique=True))
            name = f"hipi-{method}" + (f"({ran})" if method == "auto" else "")
            print(f"{tau:>5} {name:<14} {wall:>8.2f} {len(found):>9} {extra:>6} {missing:>7} "
                  f"{scipy_wall / wall:>8.2f}  {stages}")
        print(f"      sparse join: {join.get('indexed_entries')} of {join.get('entries')} entries indexed, "
              f"{join.get('candidates')} candidates, {join.get('verified')} checked exactly; peak {join_peak} MiB a rank")


if __name__ == "__main__":
    main()
