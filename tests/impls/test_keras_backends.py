"""Keras on JAX (keras-jax) and on PyTorch (keras-torch), each in a process of its own.

Keras picks its backend once per process and the rest of the suite runs Keras on
TensorFlow, so each backend gets one pytest process that runs the suite's own files with
ALEXBENCH_FRAMEWORKS naming it and its native framework (tests/conftest.py): the contract,
parity tiers 1 and 2 against the golden and pairwise with the native implementation (jax,
torch), the uint8 input tier, ResNet-18's tier 1 in train and eval mode, the FC1
flatten-order negative control, every execution mode (tiers 3-4) and the plain Keras loops
of the overhead benchmark (harness/reference/rawloops_keras.py) -- the tests whose
names or parameters say keras (`-k keras`), but for the full-size float32 logits. Those, and
VGG-11's tiers (tests/harness/parity/test_vgg_parity.py), run for Keras on TensorFlow only:
the network is the same Keras lowering on every backend, whose function these tiers prove on
each backend, and the suite's time is CI's. The two processes run in the background beside
the rest of tests/impls (tests/keras_backend_suites.py says why and how); their tests come
last and wait for them. Then the rules of one backend per process."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import pytest

import impls
from harness import backends
from tests.conftest import ROOT, require_installed
from tests.keras_backend_suites import BACKENDS


def _python(code: str, **env) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], cwd=ROOT, capture_output=True, text=True,
                          env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", **env}, timeout=300)  # fmt: skip


@pytest.mark.parametrize("framework", list(BACKENDS))
def test_the_suite_passes_for_keras_on_its_backend(framework, keras_backend_suites):
    """Started in the background beside the rest of tests/impls (tests/keras_backend_suites.py)."""
    require_installed(framework)
    require_installed(BACKENDS[framework])
    done = keras_backend_suites.result(framework)
    print(done.stdout[-6000:])
    assert done.returncode == 0, done.stdout[-12000:] + done.stderr[-3000:]
    assert " passed" in done.stdout and " failed" not in done.stdout


def test_keras_on_a_second_backend_in_one_process_is_unavailable_with_the_reason():
    require_installed("keras-jax")
    require_installed("keras-torch")
    done = _python("""
        import impls
        from impls.errors import FrameworkUnavailableError
        impls.create("keras-jax", impls.tiny_config())
        print(impls.unavailable_reason("keras-torch"))
        try:
            impls.create("keras-torch", impls.tiny_config())
        except FrameworkUnavailableError as error:
            print("refused:", error)
    """)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "keras-torch needs Keras on the torch backend, but this process already loaded Keras on 'jax'" in done.stdout
    assert "refused: keras-torch needs Keras on the torch backend" in done.stdout
    assert "KERAS_BACKEND=torch" in done.stdout


def test_the_registry_not_keras_backend_picks_the_backend():
    """KERAS_BACKEND set to another backend (a user's shell, a parent process) does not decide:
    keras-torch loads Keras on torch when it is the first to import Keras."""
    require_installed("keras-torch")
    done = _python(
        """
        import impls
        impls.create("keras-torch", impls.tiny_config())
        import keras
        print(keras.backend.backend())
    """,
        KERAS_BACKEND="jax",
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.split()[-1] == "torch"


def test_neither_backend_has_a_data_parallel_engine_and_says_why():
    """Their backends refuse tiers 5-6 and `alexbench scale` with the reason (test_contract's
    test_distribute_is_refused_where_there_is_no_engine checks the models and parity's skip)."""
    for framework, native in BACKENDS.items():
        why = backends.get(framework).data_parallel_refusal()
        assert why.startswith(f"{framework} is not data-parallel in alexbench") and f"use {native}" in why
        assert backends.get(native).data_parallel_refusal() is None


def test_parity_checks_each_other_keras_backend_in_a_process_of_its_own_beside_its_native():
    from harness.commands.parity import _modes_for, process_groups

    every = ["torch", "keras", "jax", "keras-jax", "keras-torch"]
    here, own = process_groups(every)
    natives = {f: n for f, n in BACKENDS.items() if impls.unavailable_reason(n) is None}
    assert here == ["torch", "keras", "jax"]
    assert own == [[f, natives[f]] if f in natives else [f] for f in BACKENDS]
    assert process_groups(["keras-jax", "jax"]) == (["keras-jax", "jax"], [])  # one Keras backend: one process
    assert process_groups(["keras-torch", "keras"])[0] == ["keras-torch"]
    assert _modes_for("keras-jax=eager,torch=bf16", ["keras-jax", "jax"]) == "keras-jax=eager"
    assert _modes_for("torch=bf16", ["keras-jax", "jax"]) == "none"
    assert _modes_for("all", ["keras-jax", "jax"]) == "all"


def test_each_worker_sets_keras_backend_before_keras_is_imported():
    for framework, backend in (("keras", "tensorflow"), ("keras-jax", "jax"), ("keras-torch", "torch")):
        assert backends.get(framework).environment(2)["KERAS_BACKEND"] == backend
    assert "XLA_FLAGS" in backends.get("keras-jax").environment(2)  # and its backend's own settings
