"""The report's "Keras over its backend" section, from synthetic records (test_report.py's
builders): the ratio of compute-only medians of keras-jax over jax and keras-torch over
torch, training and inference, with the range from the two CIs, only within one run."""

from __future__ import annotations

from harness import report
from harness.cli import main
from harness.results import write
from tests.harness.report.test_report import RUN1, RUN2, environment, row, table, throughput, why

TITLE = "Keras over its backend, compute only (images/s, median [95% CI])"


def markdown_of(tmp_path, rates: dict[str, tuple[str, float, float]]) -> str:
    for measurement in report.THROUGHPUT_MEASUREMENTS:
        for framework, (run, rate, half) in rates.items():
            write(tmp_path / "runs" / run, throughput(framework, "cpu", measurement, run, rate, half),
                  environment(framework, gpu=False))  # fmt: skip
    out = tmp_path / "report"
    assert main(["report", "--results", str(tmp_path), "--out", str(out)]) == 0
    return (out / "REPORT.md").read_text()


def test_keras_over_its_backend_ratio_and_range_within_one_run(tmp_path):
    markdown = markdown_of(tmp_path, {"jax": (RUN1, 100.0, 5.0), "keras-jax": (RUN1, 60.0, 3.0),
                                      "torch": (RUN1, 80.0, 4.0), "keras-torch": (RUN2, 40.0, 2.0)})  # fmt: skip
    rows = table(markdown, TITLE)
    assert [r[:3] for r in rows] == [
        ["CPU", "keras-jax / jax", "training"], ["CPU", "keras-jax / jax", "inference"],
        ["CPU", "keras-torch / torch", "training"], ["CPU", "keras-torch / torch", "inference"],
    ]  # fmt: skip
    jax_train = row(rows, "CPU", "keras-jax / jax", "training")
    assert jax_train[4:8] == ["60.0 [57.0, 63.0]", "100.0 [95.0, 105.0]", "0.60", "[0.54, 0.66]"]
    torch_train = row(rows, "CPU", "keras-torch / torch", "training")
    assert torch_train[4] == "40.0 [38.0, 42.0]" and torch_train[6].startswith("—")
    assert any("not one interleaved run" in text for text in why(markdown, torch_train[6]))


def test_without_keras_beside_its_backend_the_section_says_how_to_measure_it(tmp_path):
    markdown = markdown_of(tmp_path, {"jax": (RUN1, 100.0, 5.0), "keras": (RUN1, 50.0, 2.0)})
    section = markdown.split("## Keras over its backend\n", 1)[1].split("\n## ", 1)[0]
    assert "alexbench run --frameworks keras-jax,jax,keras-torch,torch" in section and "###" not in section


def test_readme_shows_keras_over_its_backend_under_the_results(tmp_path):
    from harness.report.entries import load
    from harness.report.readme import markdown_cpu_table

    markdown_of(tmp_path, {"jax": (RUN1, 100.0, 5.0), "keras-jax": (RUN1, 60.0, 3.0)})
    entries, _ = load(tmp_path)
    text = markdown_cpu_table(entries)
    assert f"**{TITLE}**" in text
    line = next(line for line in text.splitlines() if line.startswith("| CPU | keras-jax / jax | training"))
    assert "| 0.60 | [0.54, 0.66] |" in line


def test_the_native_figure_comes_from_the_keras_records_run_when_a_later_run_measured_it_again(tmp_path):
    """A later run of torch alone (another workload set, say) must not orphan keras-torch's
    ratio: the ratio keeps to the run that measured both interleaved."""
    for measurement in report.THROUGHPUT_MEASUREMENTS:
        for framework, run, rate in (("torch", RUN1, 80.0), ("keras-torch", RUN1, 40.0), ("torch", RUN2, 120.0)):
            write(tmp_path / "runs" / run, throughput(framework, "cpu", measurement, run, rate, rate / 20),
                  environment(framework, gpu=False))  # fmt: skip
    out = tmp_path / "report"
    assert main(["report", "--results", str(tmp_path), "--out", str(out)]) == 0
    rows = table((out / "REPORT.md").read_text(), TITLE)
    torch_train = row(rows, "CPU", "keras-torch / torch", "training")
    assert torch_train[5] == "80.0 [76.0, 84.0]" and torch_train[6] == "0.50" and torch_train[8] == RUN1
