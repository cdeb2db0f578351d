#!/usr/bin/env python3
"""Semantic dedup of an embedding matrix, exactly: keep one row of every group of rows
joined by cosine >= tau (the connected components of the near-duplicate graph).

    python3 examples/dedup_embeddings.py embeddings.npy --tau 0.9 --keep keep.npy
    python3 examples/dedup_embeddings.py data.h5:/embeddings --tau 0.95 --keep keep.txt
    mpirun -np 4 python3 examples/dedup_embeddings.py embeddings.npy --keep keep.npy

The input is a 2-D float array, one embedding per row (.npy, or an HDF5 dataset named
FILE.h5:/DATASET); rows need not be normalised. Every pair with cosine >= tau is found
exactly (hipi.find_heavy_pairs with cosine=True, components=True); a row is kept when it is
the smallest row of its component. The kept row indices are written as .npy or, for any
other suffix, one per line. Under mpirun each rank reads its block of rows.
"""
import argparse
import sys

import numpy as np

import hipi


def read_rows(spec, comm):
    """This rank's block of rows and the total row count."""
    if ":/" in spec:
        import h5py

        path, dataset = spec.rsplit(":/", 1)
        with h5py.File(path, "r") as f:
            data = f[dataset]
            n = data.shape[0]
            lo, hi = block(n, comm)
            return np.asarray(data[lo:hi], dtype=np.float32), n
    data = np.load(spec, mmap_mode="r")
    lo, hi = block(data.shape[0], comm)
    return np.asarray(data[lo:hi], dtype=np.float32), data.shape[0]


def block(n, comm):
    size, rank = (comm.size, comm.rank) if comm is not None else (1, 0)
    return n * rank // size, n * (rank + 1) // size


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("embeddings", help="FILE.npy or FILE.h5:/DATASET")
    parser.add_argument("--tau", type=float, default=0.9, help="cosine threshold (>=)")
    parser.add_argument("--keep", required=True, help="where the kept row indices go (.npy or text)")
    parser.add_argument("--skip-zero-rows", action="store_true", help="zero rows are kept alone, not an error")
    args = parser.parse_args()

    comm = None
    try:
        from mpi4py import MPI

        comm = MPI.COMM_WORLD if MPI.COMM_WORLD.size > 1 else None
    except ImportError:
        pass
    rows, n = read_rows(args.embeddings, comm)
    pairs, _, labels, info = hipi.find_heavy_pairs(rows, tau=args.tau, cosine=True, components=True,
                                                   skip_zero_rows=args.skip_zero_rows, comm=comm, info=True)
    if comm is not None and comm.rank != 0:
        return 0
    keep = np.flatnonzero(labels == np.arange(n))
    if args.keep.endswith(".npy"):
        np.save(args.keep, keep)
    else:
        np.savetxt(args.keep, keep, fmt="%d")
    print(f"{n} rows, {info['total']} pairs with cosine >= {args.tau}: keep {len(keep)}, drop {n - len(keep)} "
          f"(method {info['method']})", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
