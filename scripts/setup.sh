#!/usr/bin/env bash
# Set up everything alexbench needs on a fresh Debian/Ubuntu machine, idempotently:
# the Fashion-MNIST dataset (Debian package) and a virtual environment in .venv with
# the CPU build of torch, tensorflow-cpu, jax and alexbench itself (editable).
set -euo pipefail
cd "$(dirname "$0")/.."

if [ ! -e /usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz ] && [ -z "${ALEXBENCH_FASHION_MNIST:-}" ]; then
    echo "== installing Fashion-MNIST (Debian package dataset-fashion-mnist)"
    SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq dataset-fashion-mnist
fi

PYTHON="${PYTHON:-python3}"
if [ ! -x .venv/bin/python ]; then
    echo "== creating .venv with $($PYTHON --version)"
    "$PYTHON" -m venv .venv
fi
STAMP=.venv/.alexbench-installed
if [ ! -e "$STAMP" ] || [ pyproject.toml -nt "$STAMP" ]; then
    echo "== installing Python packages into .venv"
    .venv/bin/python -m pip install -q --upgrade pip
    .venv/bin/python -m pip install -q -e ".[all,test]"
    touch "$STAMP"
fi
