#!/usr/bin/env python3
"""The exact k-nearest-neighbour graph of an embedding matrix by cosine, handed to scipy:
its connected components, or a spectral clustering of it (what UMAP, HDBSCAN and spectral
methods start from).

    python3 examples/knn_graph.py embeddings.npy --k 10
    python3 examples/knn_graph.py data.h5:/E --k 15 --clusters 20 --labels labels.npy

The input is a 2-D float array, one embedding per row (.npy, or an HDF5 dataset named
FILE.h5:/DATASET); rows need not be normalised. hipi.top_k finds each row's k most similar
other rows exactly (ties to the smaller row index), as a scipy.sparse csr_array whose
entries are the cosines. The graph is made symmetric (an edge when either row lists the
other), and its connected components are counted; with --clusters C, scikit-learn's
SpectralClustering labels the rows from the graph as a precomputed affinity.
"""
import argparse

import numpy as np
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import connected_components

import hipi


def read_rows(spec):
    if ":/" in spec:
        import h5py

        path, dataset = spec.rsplit(":/", 1)
        with h5py.File(path, "r") as f:
            return np.asarray(f[dataset][...], dtype=np.float32)
    return np.asarray(np.load(spec), dtype=np.float32)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("embeddings", help="FILE.npy or FILE.h5:/DATASET")
    parser.add_argument("--k", type=int, default=10, help="neighbours per row (default 10)")
    parser.add_argument("--clusters", type=int, default=0, help="spectral clustering into this many clusters")
    parser.add_argument("--labels", help="write the cluster labels here (.npy)")
    args = parser.parse_args()

    E = read_rows(args.embeddings)
    G = hipi.top_k(E, k=args.k, cosine=True, output="csr")  # row i: its k most similar rows
    # Cosines below 0 are no affinity: keep the edge, weight it 0.
    G.data = np.clip(G.data, 0, None)
    S = G.maximum(G.T)  # symmetric: an edge when either row lists the other
    count, labels = connected_components(S, directed=False)
    sizes = np.bincount(labels)
    print(f"{E.shape[0]} rows, {S.nnz // 2} edges of the {args.k}-NN graph: {count} connected components, "
          f"the largest {sizes.max()} rows")
    if args.clusters:
        from sklearn.cluster import SpectralClustering

        clustering = SpectralClustering(n_clusters=args.clusters, affinity="precomputed", random_state=0)
        labels = clustering.fit_predict(csr_matrix(S))  # scipy 1.10's laplacian takes matrices, not arrays
        print("cluster sizes:", np.bincount(labels).tolist())
    if args.labels:
        np.save(args.labels, labels)


if __name__ == "__main__":
    main()
