"""Show: what people read. Gradient equations, matrix backprop, chain-rule traces, notes."""
