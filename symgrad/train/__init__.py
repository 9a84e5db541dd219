"""Training: optimizers as update rules, compiled training steps and loops, ``fit``."""
