"""Read: text to formulas, never run. The whitelisting reader and the step parser."""
