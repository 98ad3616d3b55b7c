# The two commands of README.md. Both set up what they need first (scripts/setup.sh).
.PHONY: setup run test

setup:
	bash scripts/setup.sh

run: setup
	TF_CPP_MIN_LOG_LEVEL=2 .venv/bin/alexbench run

test:
	bash scripts/setup.sh --test
	.venv/bin/ruff check .
	ALEXBENCH_REQUIRE_ALL=1 TF_CPP_MIN_LOG_LEVEL=2 .venv/bin/python -m pytest -q --durations=25
