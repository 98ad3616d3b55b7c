#!/usr/bin/env bash
# Set up everything alexbench needs on a fresh Debian/Ubuntu machine, idempotently:
# the Fashion-MNIST dataset (Debian package) and a virtual environment in .venv with
# the CPU build of torch, tensorflow-cpu, jax and alexbench itself (editable).
# With --test it also installs what the tests need: Debian's chromium (the HTML report is
# opened in a real headless browser).
set -euo pipefail
cd "$(dirname "$0")/.."

DEBS=()
if [ ! -e /usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz ] && [ -z "${ALEXBENCH_FASHION_MNIST:-}" ]; then
    DEBS+=(dataset-fashion-mnist)
fi
if [ "${1:-}" = "--test" ] && ! command -v chromium >/dev/null; then
    DEBS+=(chromium)
fi
if [ ${#DEBS[@]} -gt 0 ]; then
    echo "== installing Debian packages: ${DEBS[*]}"
    SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${DEBS[@]}" >/dev/null
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
