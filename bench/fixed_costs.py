#!/usr/bin/python3
"""What a user waits for around the methods: wall time and per-stage times of hipi auto's
first run on a machine (calibration included) and of a second run (the cached profile),
against the tool a user would run instead, measured in the same run.

    source scripts/env.sh; source scripts/blas-env.sh
    bench/fixed_costs.py [--dir fc-data] [--ranks 2] [--embeddings F.h5:/E --tau 0.9] [--skip NAME ...]

Instances (generated once into DIR, never committed):
  packed   65536 x 65536, d 4096, rho 0.5, packed bits (hipi generate --packed), 64 planted
           pairs; baseline: hipi --method brute, the AVX-512 XOR+popcount all-pairs loop
           (one core per rank), whose answer is the truth.
  int8     the same rows stored as int8 +-1 (8x the bytes); baseline: h5py reading the same
           bytes in one process (read speed), and brute force's time above.
  simhash  2,000,000 64-bit codes (packed), 5% near-duplicates of another code at Hamming
           distance 0 to 3, self-join at radius 3 (rho 0.90625); baseline: FAISS
           IndexBinaryMultiHash with 4 tables of 16 bits (exact at radius 3: one of the four
           16-bit pieces of a pair within 3 flips is equal), 2 threads.
  lsa      --embeddings: unit float32 rows (bench/embeddings.py makes them), cosine >= --tau;
           baseline: FAISS IndexFlatIP range search, 2 threads (float32: may differ from the
           exact answer within 1e-6 of tau).
Each first run gets an empty profile cache (HIPI_CACHE_DIR), the second run reuses it.
Prints JSON lines, then a markdown table. Needs HIPI_BUILD (default build/).
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

import h5py
import numpy as np

from hash_vs_faiss import wall

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
STAGES = ["read", "duplicates", "sample", "calibrate", "measure"]


def hipi_bin():
    return os.path.join(os.environ.get("HIPI_BUILD", os.path.join(ROOT, "build")), "hipi")


def make_simhash(path, n=2_000_000, seed=7):
    """n random 64-bit codes; 5% of rows replaced by a code at 0-3 flips from another row."""
    rng = np.random.default_rng(seed)
    codes = rng.integers(0, 2**64, size=n, dtype=np.uint64)
    m = n // 20
    dst = rng.choice(n, size=m, replace=False)
    codes[dst] = codes[rng.integers(0, n, size=m)]
    flips = rng.integers(0, 4, size=m)
    for f in range(1, 4):
        rows = dst[flips >= f]
        codes[rows] ^= np.uint64(1) << rng.integers(0, 64, size=rows.size).astype(np.uint64)
    with h5py.File(path, "w") as f:
        f.create_dataset("A", data=codes.byteswap().view(np.uint8).reshape(n, 8)).attrs["bits"] = 64


def instances(a):
    """(name, hipi input arguments, threshold arguments, data path) of each instance."""
    packed, int8, simhash = (os.path.join(a.dir, f) for f in ("packed.h5", "int8.h5", "simhash.h5"))
    gen = [hipi_bin(), "generate", "--n", "65536", "--d", "4096", "--k", "64", "--rho", "0.5", "--seed", "3"]
    if not os.path.exists(packed):
        subprocess.run(gen + ["--packed", "--out", packed], check=True, stdout=subprocess.DEVNULL)
    if not os.path.exists(int8) and "int8" not in a.skip:
        subprocess.run(gen + ["--out", int8], check=True, stdout=subprocess.DEVNULL)
    if not os.path.exists(simhash) and "simhash" not in a.skip:
        make_simhash(simhash)
    out = [("packed", ["--a", packed + ":/A", "--b", packed + ":/B"], ["--rho", "0.5"], packed),
           ("int8", ["--a", int8 + ":/A", "--b", int8 + ":/B"], ["--rho", "0.5"], int8),
           ("simhash", ["--a", simhash + ":/A"], ["--rho", "0.90625"], simhash)]
    if a.embeddings:
        out.append(("lsa", ["--a", a.embeddings], ["--tau", str(a.tau), "--cosine"], a.embeddings.split(":")[0]))
    return [i for i in out if i[0] not in a.skip]


def run_hipi(a, args, threshold, cache, tag, method="auto"):
    """Wall seconds, the report, and the pairs of one hipi solve."""
    out = os.path.join(a.dir, f"out-{tag}.h5")
    report = out + ".json"
    cmd = ["mpirun", "-np", str(a.ranks), "--oversubscribe", hipi_bin(), "solve", *args, *threshold,
           "--method", method, "--out", out, "--report", report]
    env = dict(os.environ, HIPI_CACHE_DIR=cache)
    start = time.perf_counter()
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    seconds = time.perf_counter() - start
    with open(report) as f:
        rep = json.load(f)
    with h5py.File(out, "r") as f:
        pairs = set(map(tuple, f["pairs"][...].tolist()))
    os.remove(out)
    os.remove(report)
    return seconds, rep, pairs


def run_faiss(a, data, method, threshold, extra=()):
    """Wall seconds (the process, as a user sees it) and the pairs of bench/faiss_baseline.py."""
    out = os.path.join(a.dir, "faiss-pairs.npy")
    cmd = [sys.executable, os.path.join(HERE, "faiss_baseline.py"), "--data", data, "--method", method,
           *threshold, "--threads", str(a.ranks), "--out", out, *extra]
    seconds = wall(cmd)
    pairs = set(map(tuple, np.load(out).tolist()))
    os.remove(out)
    return seconds, pairs


def h5py_read_seconds(path):
    start = time.perf_counter()
    with h5py.File(path, "r") as f:
        for name in f:
            if isinstance(f[name], h5py.Dataset) and f[name].ndim == 2:
                f[name][...]
    return time.perf_counter() - start


def baseline(a, name, data, threshold, truth_cache):
    """(label, seconds, pairs or None) of the tool a user would pick for this instance."""
    if name == "packed":
        s, _, pairs = run_hipi(a, ["--a", data + ":/A", "--b", data + ":/B"], threshold, truth_cache, "brute", "brute")
        return "hipi brute (XOR+popcount all pairs)", s, pairs
    if name == "int8":
        return "h5py read of the same bytes, 1 process", h5py_read_seconds(data), None
    if name == "simhash":
        s, pairs = run_faiss(a, data, "multihash", threshold, ["--nhash", "4", "--bits", "16"])
        return "FAISS IndexBinaryMultiHash 4x16", s, pairs
    s, pairs = run_faiss(a, data, "flatip", ["--tau", str(a.tau)], ["--dataset", a.embeddings.split(":")[1]])
    return "FAISS IndexFlatIP", s, pairs


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--dir", default="fc-data")
    p.add_argument("--ranks", type=int, default=2)
    p.add_argument("--embeddings", help="FILE:/DATASET of unit float32 rows (bench/embeddings.py)")
    p.add_argument("--tau", type=float, default=0.9)
    p.add_argument("--skip", nargs="*", default=[], choices=["packed", "int8", "simhash", "lsa"])
    a = p.parse_args()
    os.makedirs(a.dir, exist_ok=True)
    rows, brute_seconds = [], None
    for name, args, threshold, data in instances(a):
        with tempfile.TemporaryDirectory() as cache:
            first = run_hipi(a, args, threshold, cache, name + "-1")
            second = run_hipi(a, args, threshold, cache, name + "-2")
            label, base_seconds, base_pairs = baseline(a, name, data, threshold, cache)
        if name == "packed":
            brute_seconds = base_seconds
        for run, (seconds, rep, pairs) in (("first", first), ("second", second)):
            timings = rep["timings"]
            stages = {s: round(timings[s]["max"], 3) for s in STAGES if s in timings}
            record = {"instance": name, "run": run, "wall": round(seconds, 3), "method": rep["method"],
                      "stages": stages, "pairs": len(pairs), "baseline": label,
                      "baseline_seconds": round(base_seconds, 3), "kernels": rep["kernels"]}
            if base_pairs is not None:
                record["baseline_pairs"] = len(base_pairs)
                record["missed_vs_baseline"] = len(base_pairs - pairs)
                record["extra_vs_baseline"] = len(pairs - base_pairs)
            if name == "int8" and brute_seconds:
                record["brute_seconds"] = round(brute_seconds, 3)
            print(json.dumps(record), flush=True)
            rows.append(record)
    print("\n| instance | run | hipi wall s | read | duplicates | sample | calibrate | method | pairs "
          "| baseline | baseline s | speed-up |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        st = r["stages"]
        # int8 against brute force on the same rows (its baseline is a read time)
        ref = r.get("brute_seconds") if r["instance"] == "int8" else r["baseline_seconds"]
        speedup = f"{ref / r['wall']:.1f}x" if ref else "-"
        pairs = str(r["pairs"]) + (f" ({r['missed_vs_baseline']} not in, {r['extra_vs_baseline']} beyond baseline)"
                                   if "baseline_pairs" in r else "")
        print(f"| {r['instance']} | {r['run']} | {r['wall']:.2f} | {st.get('read', 0):.3f} | "
              f"{st.get('duplicates', 0):.3f} | {st.get('sample', 0):.3f} | {st.get('calibrate', 0):.3f} | "
              f"{r['method']} | {pairs} | {r['baseline']} | {r['baseline_seconds']:.2f} | {speedup} |")


if __name__ == "__main__":
    main()
