"""Parity: proof that the implementations compute the same function, in tiers.

    metrics.py   bounds per tier, the error metrics, Check (one measured error)
    runs.py      shared inputs, the golden and float32 reference runs, comparing two runs
    flips.py     ReLU sign flips of the float32 reference against the float64 golden
    tiers.py     tiers 1-4 and full size: the one "run each framework" loop
    suite.py     the whole `alexbench parity` run, printed as it goes
    document.py  the console table, the detailed document, the summary records

The golden itself (plain torch.nn AlexNet + torch.optim.SGD) is harness.reference.golden;
the command is harness.commands.parity.
"""

from harness.parity.flips import FlipReport, describe_flips, relu_flips
from harness.parity.metrics import (
    F32_REFERENCE,
    GOLDEN,
    PARITY_SGD,
    QUANTITIES,
    TOLERANCES,
    Check,
    failed_run,
    max_rel,
    rel_l2,
    scalar_rel,
)
from harness.parity.runs import (
    Inputs,
    Run,
    compare,
    full_config,
    make_batches,
    make_inputs,
    reference_run,
    reference_runs,
    run_model,
    select_frameworks,
    size_label,
    small_config,
)
from harness.parity.tiers import each_model, full_size, mode_tiers, tier1, tier1_uint8, tier2

__all__ = [
    "F32_REFERENCE", "GOLDEN", "PARITY_SGD", "QUANTITIES", "TOLERANCES", "Check", "FlipReport", "Inputs", "Run",
    "compare", "describe_flips", "each_model", "failed_run", "full_config", "full_size", "make_batches",
    "make_inputs", "max_rel", "mode_tiers", "reference_run", "reference_runs", "rel_l2", "relu_flips",
    "run_model", "scalar_rel", "select_frameworks", "size_label", "small_config", "tier1", "tier1_uint8", "tier2",
]  # fmt: skip
