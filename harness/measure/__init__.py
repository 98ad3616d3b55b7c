"""Measurement: worker processes, the one timing loop, scheduling, and the records they make.

    plan.py       what a run measures (profiles, BenchSettings, Plan) and the fair settings
    protocol.py   the JSON-lines channel to a worker process (parent and child sides)
    worker.py     one framework on one device in its own process; the one timing loop
    runner.py     scheduling: accuracy, then interleaved throughput blocks; resume
    summary.py    records from what the workers measured; the console summary
    monitor.py    peak host memory and NVML power sampling

This package imports no framework: each is loaded by the worker that runs it.
"""
