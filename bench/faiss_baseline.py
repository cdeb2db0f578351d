#!/usr/bin/python3
"""FAISS range search on a hipi instance: the single-machine tool a user might pick instead.

    bench/faiss_baseline.py --data F.h5 (--rho R | --tau T) --method flat|multihash|flatip
                            [--nhash 160 --bits 14] [--threads 2] [--dataset /A] --out pairs.npy

Binary (+-1) data are packed one bit per coordinate (bit set for -1), so that
<a,b> = d - 2 * hamming(a, b): heavy (<a,b> >= ceil(rho*d)) means hamming <= (d - theta)/2.
Rows stored packed already (uint8 with an attribute bits = d, as hipi reads them) are used
as they are. --dataset names A (default /A); B is /B when the file has one, else A (a
self-join: pairs i < j).
  flat:      IndexBinaryFlat, exact range search over all pairs.
  multihash: IndexBinaryMultiHash (bit-sampling LSH, nhash tables of `bits` bits),
             range search over the colliding candidates: fast for strong correlations,
             approximate (recall is measured by the caller).
  flatip:    IndexFlatIP for real data, exact range search on the inner product.
Prints one JSON line: stage seconds, pairs found, peak RSS of this process.
"""
import argparse
import json
import math
import resource
import time

import faiss
import h5py
import numpy as np


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", required=True)
    p.add_argument("--rho", type=float)
    p.add_argument("--tau", type=float)
    p.add_argument("--method", choices=["flat", "multihash", "flatip"], required=True)
    p.add_argument("--nhash", type=int, default=160)
    p.add_argument("--bits", type=int, default=14)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--dataset", default="/A", help="the dataset of A")
    p.add_argument("--out", required=True, help="heavy pairs (i, j) as an int64 .npy file")
    a = p.parse_args()
    faiss.omp_set_num_threads(a.threads)

    t0 = time.perf_counter()
    with h5py.File(a.data, "r") as f:
        A = f[a.dataset][...]
        B = f["/B"][...] if "/B" in f and a.dataset != "/B" else A
        bits = f[a.dataset].attrs.get("bits")  # packed rows
    t_read = time.perf_counter() - t0

    t1 = time.perf_counter()
    if a.method == "flatip":
        A32, B32 = np.ascontiguousarray(A, dtype=np.float32), np.ascontiguousarray(B, dtype=np.float32)
        index = faiss.IndexFlatIP(B32.shape[1])
        index.add(B32)
        t_index = time.perf_counter() - t1
        t2 = time.perf_counter()
        # FAISS keeps inner products > radius: search just below tau, keep >= tau exactly.
        lims, dist, ids = index.range_search(A32, float(np.nextafter(np.float32(a.tau), np.float32(-np.inf))))
        keep = dist >= a.tau
    else:
        packed = A.dtype == np.uint8 and bits is not None
        d = int(bits) if packed else A.shape[1]
        theta = math.ceil(a.rho * d - 1e-9)
        max_hamming = (d - theta) // 2
        pa, pb = (A, B) if packed else (np.packbits(A < 0, axis=1), np.packbits(B < 0, axis=1))
        if a.method == "flat":
            index = faiss.IndexBinaryFlat(d)
        else:
            index = faiss.IndexBinaryMultiHash(d, a.nhash, a.bits)
        index.add(pb)
        t_index = time.perf_counter() - t1
        t2 = time.perf_counter()
        lims, dist, ids = index.range_search(pa, max_hamming + 1)  # FAISS keeps distances < radius
        keep = dist <= max_hamming
    t_search = time.perf_counter() - t2
    rows = np.repeat(np.arange(len(lims) - 1, dtype=np.int64), np.diff(lims.astype(np.int64)))
    pairs = np.stack([rows[keep], ids[keep].astype(np.int64)], axis=1)
    if B is A:  # self-join: pairs i < j only
        pairs = pairs[pairs[:, 0] < pairs[:, 1]]
    np.save(a.out, pairs)
    print(json.dumps({
        "method": "faiss-" + a.method + (f"-{a.nhash}x{a.bits}" if a.method == "multihash" else ""),
        "threads": a.threads,
        "read_seconds": t_read,
        "index_seconds": t_index,
        "search_seconds": t_search,
        "seconds": t_read + t_index + t_search,
        "pairs": int(len(pairs)),
        "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0,
    }))


if __name__ == "__main__":
    main()
