"""Code generation: derived expressions written out as readable, cached Numba modules."""
