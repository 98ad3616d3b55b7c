#!/usr/bin/env bash
# The GPU measurements, for a machine with one NVIDIA GPU and CUDA builds
# of torch and jax. FRAMEWORKS defaults to torch and jax plus the Keras implementations whose
# framework is present: keras-jax and keras-torch where Keras is installed (README, "Keras
# without TensorFlow", says how to carry it), keras where TensorFlow is too.
#
#   bash tools/gpu_run.sh                 # then commit results/runs/<run>/ and the report
#
# Throughput of every model (MODELS, default alexnet,vgg11,resnet18, one after the other in one run) at
# batch 32 and 256, every execution mode, compute-only and end to end (the
# end-to-end records state their fraction of compute-only), the input pipeline alone, then
# the report; then the time per epoch of README's full-size training recipe (224x224), from
# one epoch on 10,000 images (an epoch of all 60,000 is 6x that). No accuracy run: that is
# `alexbench run --devices gpu --profile full`.
set -euo pipefail
cd "$(dirname "$0")/.."
RUN="${RUN:-gpu-$(date -u +%Y%m%dT%H%M%SZ)}"
PYTHON="${PYTHON:-python3}"
if [ -z "${FRAMEWORKS:-}" ]; then
    # every registered implementation installed here, torch and jax first (impls.available())
    FRAMEWORKS="$("$PYTHON" -c 'import impls; print(",".join(impls.available()))')"
fi
"$PYTHON" -m harness run --run-id "$RUN" --models "${MODELS:-alexnet,vgg11,resnet18}" --frameworks "$FRAMEWORKS" \
    --devices gpu \
    --batch-sizes 32,256 --modes all --skip-accuracy --repeats 3 --train-steps 20 --inference-steps 40 \
    --warmup 3 "$@"
"$PYTHON" -m harness report --readme README.md
"$PYTHON" -m harness train --framework torch --device gpu --image-size 224 --train-subset 10000 \
    --test-subset 1000 --epochs 1   # prints the epoch's seconds: x6 for an epoch of 60,000 images
