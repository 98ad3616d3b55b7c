"""References written directly in a framework, outside the impls contract: the plain
idiomatic loops the harness is benchmarked against (rawloops.py) and the plain torch.nn
float64 golden that parity measures every implementation against (golden.py)."""
