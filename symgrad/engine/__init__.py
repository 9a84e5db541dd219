"""Engine: the chain rule. Expression graphs, the rule table, one reverse sweep, exact values."""
