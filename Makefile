# The two commands of README.md. Both set up what they need first (scripts/setup.sh).
.PHONY: setup run test

setup:
	bash scripts/setup.sh

run: setup
	TF_CPP_MIN_LOG_LEVEL=2 .venv/bin/alexbench run

# The suite runs XLA (TensorFlow's jit_compile, JAX, Keras on JAX) without LLVM's code
# optimizations: it compiles hundreds of small programs and runs each a few times, so
# compiling is most of their time (measured: the Keras-on-JAX process 158 s against 198 s, the
# contract and VGG-11 parity files 106 s against 127 s; the full-size float64 checks, run time
# rather than compile time, are slower: JAX's ResNet-18 gradients at 224 30 s against 15 s).
# It changes how fast the compiled code runs, not what it computes: the tiers' bounds are the
# same. The benchmarks (alexbench, asv, pytest-benchmark) run XLA as users do, without it.
TEST_XLA_FLAGS = --xla_backend_optimization_level=0

test:
	bash scripts/setup.sh --test
	.venv/bin/ruff check .
	ALEXBENCH_REQUIRE_ALL=1 TF_CPP_MIN_LOG_LEVEL=2 XLA_FLAGS="$(TEST_XLA_FLAGS) $$XLA_FLAGS" \
		.venv/bin/python -m pytest -q --durations=25
