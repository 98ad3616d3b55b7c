"""The console summary `alexbench run` prints: a row per seed, then per framework the mean ± sd
over seeds and its rank, and every pair's paired verdict, the report's own (synthetic records,
no training)."""

from pathlib import Path

from harness import stats
from harness.measure.summary import summary_table
from harness.report import Entry, Selection
from harness.report import accuracy as report
from harness.results import Record

TOP1 = {"torch": [0.700, 0.710, 0.722], "jax": [0.741, 0.750, 0.762], "keras": [0.706, 0.715, 0.723]}
MODES = {"torch": "channels_last", "jax": "jit", "keras": "xla"}


def records(seeds: int = 3) -> list[Record]:
    found = []
    for seed in range(seeds):  # as a run writes them: seed k of every framework, then k+1
        for framework, top1 in TOP1.items():
            found.append(Record(
                "train", framework, "cpu", "accuracy", "r", mode=MODES[framework], seed=seed,
                settings={"seed": seed, "epochs": 2, "image_size": 64}, finished=f"2026-01-01T00:00:{seed:02d}Z",
                metrics={"top1": top1[seed], "top5": 0.97 + seed / 1000, "test_loss": 0.8, "seconds": 300.0},
            ))  # fmt: skip
    return found


def line_of(text: str, start: str) -> str:
    (line,) = [line for line in text.splitlines() if line.startswith(start)]
    return line


def test_a_row_per_seed_then_mean_sd_rank_and_the_paired_verdicts():
    written = records()
    text = summary_table(written)
    assert line_of(text, "accuracy").split()[:3] == ["accuracy", "seed", "top-1"]
    rows = [line.split() for line in text.splitlines() if line.startswith(("torch/cpu ", "jax/cpu ", "keras/cpu "))]
    seeded = [r for r in rows if r[2].endswith("%")]  # the per-seed rows
    assert [(r[0], r[1], r[2]) for r in seeded[:3]] == [("torch/cpu", "0", "70.00%"), ("torch/cpu", "1", "71.00%"),
                                                        ("torch/cpu", "2", "72.20%")]  # fmt: skip
    assert len(seeded) == 9
    s = Selection([Entry.of(Path(""), r, {"modes": {"default": r.mode}}) for r in written])
    ranks = report.ranks(s, "cpu", "top1")
    for framework, values in TOP1.items():
        summary = stats.mean_ci(values)
        over = [line for line in text.split("over seeds", 1)[1].splitlines() if line.startswith(f"{framework}/cpu")]
        assert f"{summary['mean'] * 100:.2f} ± {summary['sd'] * 100:.2f}" in over[0]
        assert over[0].rstrip().endswith(ranks[framework])  # the report's rank
    for a, b in (("torch", "jax"), ("torch", "keras"), ("jax", "keras")):
        verdict = report.compare(s, "cpu", a, b, "top1").verdict
        assert line_of(text, f"{a} vs {b} on CPU").endswith(verdict)
    assert line_of(text, "torch vs jax on CPU").endswith("jax better")
    assert line_of(text, "torch vs keras on CPU").endswith(report.TIE)


def test_one_seed_ranks_nothing_and_says_so():
    text = summary_table(records(seeds=1))
    assert report.N_ONE in text
    assert line_of(text, "torch vs jax on CPU").endswith("n = 1: cannot rank")


def test_throughput_and_failures_still_listed():
    failure = Record("failure", "keras", "cpu", "throughput", "r", error="boom")
    text = summary_table([*records(seeds=2), failure])
    assert "FAILED keras/cpu throughput: boom" in text and "over seeds" in text
