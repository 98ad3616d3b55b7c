#!/usr/bin/env bash
# asv smoke check for CI (called from .ci/run after `make test`, which set up .venv):
#  1. `asv check`: the suite in benchmarks/ imports and every benchmark is well formed;
#  2. a quick run of a small subset in the current environment (--python=same: no
#     virtualenv is built), each benchmark once (--quick), nothing saved (--dry-run).
# The smoke check runs each benchmark in a fresh process (framework import, model build,
# compilation: ~10 s each on 2 cores), so the subset covers each axis once rather than their
# product: one training step at batch 8 in the default mode of AlexNet for every framework and
# of every model (vgg11, resnet18) for torch; AlexNet inference at batch 8 and the
# float32-vs-float64 logits parity of the torchvision variant for torch (each framework's
# predict is the one its training step's benchmark already builds). The numerics of every framework and model are the
# test suite's. asv exits non-zero when a
# benchmark fails; with ALEXBENCH_REQUIRE_ALL=1 (the default here) a framework that is
# not installed fails instead of being skipped. Every asv call is bounded by `timeout`.
set -euo pipefail
cd "$(dirname "$0")/.."

ASV="${ASV:-.venv/bin/asv}"
export ALEXBENCH_REQUIRE_ALL="${ALEXBENCH_REQUIRE_ALL:-1}"
export TF_CPP_MIN_LOG_LEVEL="${TF_CPP_MIN_LOG_LEVEL:-2}"

echo "== asv machine (defaults, written to ~/.asv-machine.json)"
"$ASV" machine --yes >/dev/null

echo "== asv check --python=same"
timeout 300 "$ASV" check --python=same

echo "== asv run --python=same --quick --dry-run (subset)"
timeout 600 "$ASV" run --python=same --quick --dry-run --show-stderr \
    --bench "Inference\.time_inference\('alexnet', 'torch', 'default', 8\)" \
    --bench "TrainStep\.time_train_step\('alexnet', .*, 'default', 8\)" \
    --bench "TrainStep\.time_train_step\('(vgg11|resnet18)', 'torch', 'default', 8\)" \
    --bench "Parity\.track_parity_error\('alexnet', 'torch', 'torchvision'\)"
