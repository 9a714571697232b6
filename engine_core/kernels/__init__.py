"""Numba kernels shared by states (integerisation, alias, counts, routing)."""
