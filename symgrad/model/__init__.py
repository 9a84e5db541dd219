"""Model: tensor programs over a batch (nodes), losses, networks, and the data they are fed."""
