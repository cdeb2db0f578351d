"""hipi: exact heavy inner products.

find_heavy_pairs(A, B=None, *, rho=None, tau=None, ...): every pair of rows whose inner
product passes a threshold, exactly (the C++ library, hipi/hipi.hpp, over MPI).
FiringSet(W, X, b): the pairs (r, i) with <w_r, x_i> > b, kept exact across weight updates.
"""
from ._hipi import find_heavy_pairs
from .firing import FiringSet

__all__ = ["find_heavy_pairs", "FiringSet"]
