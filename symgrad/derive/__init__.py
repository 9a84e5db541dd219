"""Derive: a network's backprop by the engine's sweep, tensor VJP rules, fusion, stable forms."""
