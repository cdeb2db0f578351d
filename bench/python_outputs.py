#!/usr/bin/env python3
"""The Python user's near-duplicate graph at cosine >= tau, three ways, in one process and
one run: hipi.find_heavy_pairs(output="csr"), scikit-learn's radius_neighbors_graph (cosine
distance <= 1 - tau) and FAISS's IndexFlatIP range_search on unit rows (lims, D, I;
hipi's output="lims" is the same convention). Prints each one's wall time, the ratios to
hipi, how many pairs each found against a float64 truth, and the cost of hipi's output
conversions against its arrays.

    source scripts/env.sh; source scripts/blas-env.sh
    PYTHONPATH=build/python bench/python_outputs.py --data emb-data/embeddings.h5:/E --rows 20000 --tau 0.9

The data: any float32 rows (bench/embeddings.py makes LSA rows of real text). Each tool runs
with the threads it takes by default on this machine (OpenBLAS's, FAISS's OpenMP, sklearn's
n_jobs=-1); hipi runs in this one process (no mpirun).
"""
import argparse
import time

import h5py
import numpy as np


def timed(f):
    start = time.perf_counter()
    out = f()
    return out, time.perf_counter() - start


def pair_set(i, j):
    """Pairs (i < j) as one int64 key each."""
    lo, hi = np.minimum(i, j), np.maximum(i, j)
    keep = lo < hi
    return np.unique(lo[keep].astype(np.int64) * (1 << 32) + hi[keep])


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", required=True, help="FILE:/DATASET of float32 rows")
    parser.add_argument("--rows", type=int, default=20000)
    parser.add_argument("--tau", type=float, default=0.9)
    args = parser.parse_args()
    path, _, name = args.data.partition(":")
    with h5py.File(path, "r") as f:
        E = np.ascontiguousarray(f[name or "/E"][: args.rows], dtype=np.float32)
    n, d = E.shape

    import hipi

    print(f"{n} rows of d = {d}, cosine >= {args.tau}")
    (pairs, cos, info), t_arrays = timed(lambda: hipi.find_heavy_pairs(E, tau=args.tau, cosine=True, info=True))
    graph, t_hipi = timed(lambda: hipi.find_heavy_pairs(E, tau=args.tau, cosine=True, output="csr"))
    conversions = {out: timed(lambda: hipi.as_output(pairs, cos, (n, n), out, self_join=True))[1]
                   for out in ("coo", "csr", "lims")}

    # The truth: float64 cosines of the stored values, every pair at or above tau.
    U = E.astype(np.float64)
    U /= np.linalg.norm(U, axis=1, keepdims=True)
    truth = []
    for first in range(0, n, 4096):
        block = U[first:first + 4096] @ U.T
        i, j = np.nonzero(block >= args.tau)
        truth.append(pair_set(i + first, j))
    truth = np.unique(np.concatenate(truth))

    from sklearn.neighbors import radius_neighbors_graph

    sk, t_sklearn = timed(lambda: radius_neighbors_graph(E, radius=1 - args.tau, metric="cosine", mode="distance",
                                                         include_self=False, n_jobs=-1))
    import faiss

    unit = E / np.linalg.norm(E, axis=1, keepdims=True)
    def faiss_range():
        index = faiss.IndexFlatIP(d)
        index.add(unit)
        return index.range_search(unit, args.tau)

    (lims, D, I), t_faiss = timed(faiss_range)

    sk_coo = sk.tocoo()
    found = {
        "hipi csr": pair_set(*graph.nonzero()),
        "sklearn radius_neighbors_graph": pair_set(sk_coo.row, sk_coo.col),
        "faiss range_search": pair_set(np.repeat(np.arange(n), np.diff(lims.astype(np.int64))), I),
    }
    print(f"truth (float64): {len(truth)} pairs")
    for tool, t in (("hipi csr", t_hipi), ("sklearn radius_neighbors_graph", t_sklearn),
                    ("faiss range_search", t_faiss)):
        got = found[tool]
        missed = len(np.setdiff1d(truth, got))
        extra = len(np.setdiff1d(got, truth))
        print(f"  {tool:32s} {t:7.3f} s  ({t / t_hipi:5.2f}x hipi)  pairs {len(got)}: {missed} missed, {extra} not in the truth")
    print(f"  hipi arrays (no conversion)      {t_arrays:7.3f} s")
    print("  conversion of hipi's arrays: " + ", ".join(f"{k} {v * 1e3:.1f} ms" for k, v in conversions.items()))
    print(f"  hipi: method {info['method']}, kernels {info['kernels']}; faiss {faiss.__version__} with "
          f"{faiss.omp_get_max_threads()} threads; numpy {np.__version__}")


if __name__ == "__main__":
    main()
