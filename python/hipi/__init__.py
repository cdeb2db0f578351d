"""hipi: exact heavy inner products.

find_heavy_pairs(A, B=None, *, rho=None, tau=None, output="arrays", ...): every pair of rows
whose inner product passes a threshold (>=), exactly (the C++ library, hipi/hipi.hpp, over
MPI), as arrays, a scipy.sparse matrix or FAISS's (lims, D, I).
top_k(A, B=None, k=10, ...): each row of A's k best rows of B, exactly, as FAISS's search
gives them (D, I), or as a kNN graph (scipy.sparse), arrays or (lims, D, I).
read_pairs(path): an output file of `hipi solve` (pairs, inner products, components, attributes).
FiringSet(W, X, b): the pairs (r, i) with <w_r, x_i> > b, kept exact across weight updates.
"""
from ._hipi import __version__
from .firing import FiringSet
from .pairs import OUTPUTS, TOP_K_OUTPUTS, PairsFile, as_output, find_heavy_pairs, read_pairs, top_k

__all__ = ["find_heavy_pairs", "top_k", "read_pairs", "as_output", "PairsFile", "OUTPUTS", "TOP_K_OUTPUTS",
           "FiringSet", "__version__"]
