"""The asv benchmark suite of alexbench (see benchmarks/benchmarks.py and asv.conf.json)."""
