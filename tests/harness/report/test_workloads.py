"""The report groups records by workload: runs of different workloads in one results folder
(another input size, the paper variant, a narrower network, another training dataset) give
a table each, headline workload first, and are never ranked against each other; a later run
of another workload never replaces the figures of the first."""

from __future__ import annotations

import csv
import io
import re

import pytest

from harness import report
from harness.cli import main
from harness.results import Record, write
from tests.harness.report.test_report import environment, row, seeded_train, split_cell, tables, throughput, why

HEADLINE = "alexnet (torchvision) · 224x224x3 · float32"
OTHERS = {  # another workload's record fields -> its caption
    "size": ({"image_size": [128, 128]}, "alexnet (torchvision) · 128x128x3 · float32"),
    "paper": ({"variant": "paper", "image_size": [227, 227]}, "alexnet (paper) · 227x227x3 · float32"),
    "width": ({"width": 0.25}, "alexnet (torchvision) · 224x224x3 · float32 · width 0.25"),
}
TRAIN_TITLE = "Training, compute only (images/s)"


def two_workloads(root, other: dict, gpu_other: bool = False):
    """Run "first": every framework on the headline workload (CPU). Run "second", finished
    later: torch and keras on another workload, much faster, on the CPU (or the GPU)."""
    for measurement in report.THROUGHPUT_MEASUREMENTS:
        for framework, rate, half in (("torch", 100.0, 5.0), ("jax", 98.0, 5.0), ("keras", 50.0, 2.0)):
            record = throughput(framework, "cpu", measurement, "first", rate, half)
            record.in_channels = 3
            write(root / "runs" / "first", record, environment(framework, gpu=False))
        for framework, rate in (("torch", 300.0), ("keras", 200.0)):
            device = "gpu" if gpu_other else "cpu"
            record = throughput(framework, device, measurement, "second", rate, 5.0, joules_per_image=0.1)
            for name, value in {"in_channels": 3, **other}.items():
                setattr(record, name, value)
            record.finished = "2026-02-01T00:00:00Z"
            write(root / "runs" / "second", record, environment(framework, gpu=gpu_other))
    return root


def generate(root, tmp_path) -> tuple[str, str, list[dict]]:
    out = tmp_path / "out"
    assert main(["report", "--results", str(root), "--out", str(out)]) == 0
    sheet = list(csv.DictReader(io.StringIO((out / "summary.csv").read_text())))
    return (out / "REPORT.md").read_text(), (out / "report.html").read_text(), sheet


@pytest.mark.parametrize("change", sorted(OTHERS))
def test_two_workloads_in_one_results_folder_give_two_tables_not_one_ranking(tmp_path, change):
    other, caption = OTHERS[change]
    markdown, page, sheet = generate(two_workloads(tmp_path / "results", other), tmp_path)
    found = tables(markdown, TRAIN_TITLE)
    assert [w for w, _ in found] == [HEADLINE, caption]  # the headline (most records) first, each named
    headline, second = found[0][1], found[1][1]
    # the later, faster run of another workload replaced nothing: torch's headline figure is the first run's
    assert row(headline, "CPU", "torch")[5:9] == ["100.0", "[95.0, 105.0]", "1, tie (within noise)", "first"]
    assert row(headline, "CPU", "keras")[7] == "3"
    assert row(second, "CPU", "torch")[5:8] == ["300.0", "[295.0, 305.0]", "1"]  # ranked among its own only
    assert row(second, "CPU", "keras")[7] == "2"
    jax = row(second, "CPU", "jax")
    assert why(markdown, jax[5]) == ["jax has no record on CPU of this workload"] and jax[7] == report.DASH
    # every table that ranks or compares frameworks: once per workload, anchors unique in the page
    for title in ("Inference, end to end (images/s)", "Step latency and warm-up", "Peak memory (GiB)",
                  "Achieved FLOP/s against the measured peak", "GPU vs CPU (images/s, median [95% CI])"):  # fmt: skip
        assert [w for w, _ in tables(markdown, title)] == [HEADLINE, caption], title
    ids = re.findall(r'<table id="([^"]+)"', page)
    assert len(ids) == len(set(ids)) and "train-compute-only" in ids
    assert "Workloads (each table ranks or compares frameworks within one; " in markdown
    # summary.csv: a row per workload, ranked within it, with the workload's columns
    torch = [r for r in sheet if (r["framework"], r["measurement"]) == ("torch", "train/compute_only")]
    assert [(r["workload"], r["images_per_s"], r["rank"]) for r in torch] == [
        (HEADLINE, "100.0", "1, tie (within noise)"), (caption, "300.0", "1")]  # fmt: skip
    assert torch[1]["width"] == ("0.25" if change == "width" else "1.0") and torch[1]["in_channels"] == "3"
    assert torch[1]["variant"] == ("paper" if change == "paper" else "torchvision")


def test_the_readme_table_shows_the_headline_workload_and_says_so(tmp_path):
    root = two_workloads(tmp_path / "results", OTHERS["size"][0])
    summary = report.markdown_cpu_table(report.load(root)[0])
    assert "| CPU | torch | eager | 100.0 [95.0, 105.0] | 1, tie (within noise) |" in summary
    assert "300.0" not in summary and "from run(s) first." in summary
    assert f"Workloads: throughput of {HEADLINE} (CPU)." in summary
    assert "REPORT.md has the figures of every other workload in these results." in summary


def test_gpu_vs_cpu_compares_one_workload_only(tmp_path):
    """The CPU measured the headline workload, the GPU another: no speed-up across them."""
    markdown, _, _ = generate(two_workloads(tmp_path / "results", OTHERS["size"][0], gpu_other=True), tmp_path)
    found = tables(markdown, "GPU vs CPU (images/s, median [95% CI])")
    assert [w for w, _ in found] == [HEADLINE, OTHERS["size"][1]]
    on_cpu = row(found[0][1], "torch", "train/compute_only")
    assert on_cpu[2] == "100.0 [95.0, 105.0]" and split_cell(on_cpu[3])[0] == report.DASH
    assert why(markdown, on_cpu[4]) == ["no GPU record: nothing of this workload ran on a GPU"]
    on_gpu = row(found[1][1], "torch", "train/compute_only")
    assert on_gpu[3] == "300.0 [295.0, 305.0]" and split_cell(on_gpu[4])[0] == report.DASH
    assert "19.8x" not in markdown and "3.0x" not in markdown


def test_trainings_on_two_datasets_are_two_accuracy_tables(tmp_path):
    root = tmp_path / "results"
    for framework, top1 in (("torch", 0.8), ("jax", 0.79)):
        write(root / "runs" / "fmnist", seeded_train(framework, "fmnist", 0, top1, None),
              environment(framework, gpu=False))  # fmt: skip
        folder = seeded_train(framework, "folder", 0, top1 - 0.3, None)
        folder.dataset, folder.in_channels = "folder/flowers/train", 3
        write(root / "runs" / "folder", folder, environment(framework, gpu=False))
    markdown, _, _ = generate(root, tmp_path)
    title = "Top-1 and top-5 on the test split (%), over seeds: mean ± standard deviation [95% interval of the mean]"
    found = tables(markdown, title)
    assert [w for w, _ in found] == [  # two records each: the workloads' own order decides
        "alexnet (torchvision) · 64x64x? · float32 · fashion-mnist/train",
        "alexnet (torchvision) · 64x64x3 · float32 · folder/flowers/train",
    ]
    assert row(found[0][1], "CPU", "torch")[6] == "80.00" and row(found[1][1], "CPU", "torch")[6] == "50.00"


def test_records_without_a_workload_join_their_runs(tmp_path):
    """A failure that never reached its workload stands in the tables of its run's workload."""
    root = two_workloads(tmp_path / "results", OTHERS["size"][0])
    write(root / "runs" / "second", Record("failure", "jax", "cpu", "throughput", "second", error="jax died",
                                           finished="2026-02-02T00:00:00Z"), environment("jax", gpu=False))  # fmt: skip
    markdown, _, _ = generate(root, tmp_path)
    headline, second = (rows for _, rows in tables(markdown, TRAIN_TITLE))
    assert row(headline, "CPU", "jax")[5] == "98.0"  # the first run's jax stands
    assert any("jax died" in n for n in why(markdown, row(second, "CPU", "jax")[5]))


def test_grouped_report_is_byte_reproducible(tmp_path):
    root = two_workloads(tmp_path / "results", OTHERS["paper"][0])
    first = generate(root, tmp_path / "a")
    again = generate(root, tmp_path / "b")
    assert first == again
