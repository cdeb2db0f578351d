#!/usr/bin/python3
"""The ten lines of numpy a user would write instead of hipi, for real data:

    with h5py.File(path) as f: W, X = f["/A"][...], f["/B"][...]
    for i in range(0, len(W), block):
        C = W[i:i + block] @ X.T                     # float32 SGEMM (numpy's BLAS, all threads)
        r, c = np.nonzero(C >= tau)                  # or abs(C) >= tau

    bench/numpy_baseline.py --data F.h5 --tau T [--abs] [--block 4096] [--threads 2] --out pairs.npy

It is not exact: float32 sums can put a pair within rounding of tau on the wrong side
(the caller measures recall against hipi's exact answer). Prints one JSON line: seconds
(reading included), the BLAS numpy uses, pairs found, peak RSS.
"""
import argparse
import json
import os
import resource
import sys
import time


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", required=True)
    p.add_argument("--tau", type=float, required=True)
    p.add_argument("--abs", action="store_true")
    p.add_argument("--block", type=int, default=4096)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--out", required=True)
    a = p.parse_args()
    os.environ["OPENBLAS_NUM_THREADS"] = str(a.threads)  # before numpy loads its BLAS
    import h5py
    import numpy as np

    t0 = time.perf_counter()
    with h5py.File(a.data, "r") as f:
        W = f["/A"][...].astype(np.float32, copy=False)
        X = f["/B"][...].astype(np.float32, copy=False) if "/B" in f else W
    t_read = time.perf_counter() - t0
    t1 = time.perf_counter()
    XT = np.ascontiguousarray(X.T)
    found = []
    for i in range(0, len(W), a.block):
        C = W[i:i + a.block] @ XT
        r, c = np.nonzero((np.abs(C) if a.abs else C) >= a.tau)
        found.append(np.stack([r + i, c], axis=1))
    pairs = np.concatenate(found) if found else np.zeros((0, 2), np.int64)
    t_compute = time.perf_counter() - t1
    np.save(a.out, pairs.astype(np.int64))
    blas = "unknown"
    try:
        from threadpoolctl import threadpool_info
        blas = "; ".join(f"{i.get('internal_api')} {i.get('architecture')} x{i.get('num_threads')}"
                         for i in threadpool_info() if i.get("user_api") == "blas")
    except ImportError:
        pass
    print(json.dumps({"method": f"numpy blocked SGEMM ({blas})", "seconds": t_read + t_compute, "read": t_read,
                      "compute": t_compute, "pairs": int(len(pairs)),
                      "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))


if __name__ == "__main__":
    sys.exit(main())
