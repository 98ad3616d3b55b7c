#!/usr/bin/env bash
# The GPU measurements, for a machine with one NVIDIA GPU and CUDA builds
# of torch and jax (TensorFlow optional: add keras to FRAMEWORKS where it is installed).
#
#   bash tools/gpu_run.sh                 # then commit results/runs/<run>/ and the report
#
# Throughput at batch 32 and 256, every execution mode, compute-only and end to end (the
# end-to-end records state their fraction of compute-only), the input pipeline alone, then
# the report. No accuracy training: that is `alexbench run --devices gpu --profile full`.
set -euo pipefail
cd "$(dirname "$0")/.."
RUN="${RUN:-gpu-$(date -u +%Y%m%dT%H%M%SZ)}"
PYTHON="${PYTHON:-python3}"
"$PYTHON" -m harness run --run-id "$RUN" --frameworks "${FRAMEWORKS:-torch,jax}" --devices gpu \
    --batch-sizes 32,256 --modes all --skip-accuracy --repeats 3 --train-steps 20 --inference-steps 40 \
    --warmup 3 "$@"
"$PYTHON" -m harness report --readme README.md
