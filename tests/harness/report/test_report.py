"""`alexbench report`: tables, plots, notes for missing figures, ties, determinism, README
embedding, and the HTML report in headless Chromium. Records are built here with
harness.results: two runs, CPU and GPU, a failure, a GPU without NVML, a parity check and a
corrupt file."""

from __future__ import annotations

import csv
import io
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from harness import report
from harness.cli import main
from harness.results import Record, write, write_json

RUN1, RUN2 = "20260101T000000Z", "20260102T000000Z"
SUPERSCRIPT = str.maketrans("⁰¹²³⁴⁵⁶⁷⁸⁹", "0123456789")
NO_NVML = "energy: nvidia-ml-py is not installed (pip install 'alexbench[gpu]')"
OOM = "keras worker on gpu died (exit code -9) during 'bench_block'; last log lines: CUDA_ERROR_OUT_OF_MEMORY"


def environment(framework: str, gpu: bool = True) -> dict:
    """As run.py records it: the machine (with its GPU) is the same for every record of a run."""
    versions = {"torch": {"torch": "2.13.0"}, "keras": {"keras": "3.15.1", "tensorflow": "2.21.0"}}.get(
        framework, {"jax": "0.10.2", "jaxlib": "0.10.2"}
    )
    return {
        "cpu_model": "Test CPU 9000",
        "cpu_count": 2,
        "memory_bytes": 8 * 2**30,
        "os": "Linux 6.1",
        "machine": "x86_64",
        "python": "3.11.7",
        "gpus": [{"index": 0, "name": "NVIDIA H100 80GB HBM3", "memory_bytes": 80 * 2**30, "driver": "550.54"}]
        if gpu
        else [],
        "git_commit": "0123456789abcdef0123456789abcdef01234567",
        "variables": {"OMP_NUM_THREADS": "2"},
        "versions": versions,
        "settings": {"threads": 2, "precision_mode": "ieee", "tf32": False},
        "seed": 0,
        "alexbench_version": "0.1.0",
    }


def throughput(framework, device, measurement, run_id, rate, half_width, **metrics) -> Record:
    batch = 32
    step = batch / rate
    values = {
        "images_per_s": rate,
        "images_per_s_ci95_low": rate - half_width,
        "images_per_s_ci95_high": rate + half_width,
        "images_per_s_iqr": half_width,
        "step_seconds_p50": step,
        "step_seconds_p90": step * 1.1,
        "steps": 12,
        "warmup_first_seconds": 3.5,
        "warmup_seconds_total": 4.0,
        "flops_per_image": 2_170_000_000,
        "achieved_gflops": rate * 2.17,
        "peak_rss_bytes": 3 * 2**30,
        "device_peak_bytes": 5 * 2**30 if device == "gpu" else None,
    }
    values.update(metrics)
    notes = ["12 timed steps in 3 interleaved blocks", "forward FLOPs"]
    if device == "cpu":
        notes.append("device peak memory: device memory applies to GPUs; on CPU see peak host RSS")
    if values["device_peak_bytes"] is None and device == "gpu":
        notes.append("device peak memory: JAX's allocator reports no peak_bytes_in_use")
    if device == "gpu" and "joules_per_image" not in values:
        notes.append(NO_NVML)
    return Record(
        "throughput",
        framework,
        device,
        measurement,
        run_id,
        batch_size=batch,
        image_size=[224, 224],
        dataset="synthetic",
        metrics=values,
        samples=[step] * 12,
        notes=notes,
        started=f"{run_id[:4]}-{run_id[4:6]}-{run_id[6:8]}T00:10:00Z",
        finished=f"{run_id[:4]}-{run_id[4:6]}-{run_id[6:8]}T00:20:00Z",
    )


def finished(run_id: str, minute: int = 30) -> str:
    return f"{run_id[:4]}-{run_id[4:6]}-{run_id[6:8]}T00:{minute:02d}:00Z"


def write_records(root: Path, parity: bool = True) -> Path:
    run1, run2 = root / "runs" / RUN1, root / "runs" / RUN2
    cpu_rates = {"torch": (100.0, 5.0), "jax": (98.0, 5.0), "keras": (50.0, 2.0)}  # torch ~ jax; keras slower
    for measurement in report.THROUGHPUT_MEASUREMENTS:
        for framework, (rate, half) in cpu_rates.items():
            write(run1, throughput(framework, "cpu", measurement, RUN1, rate, half), environment(framework))
        gpu = dict(joules_per_image=0.05, watts_mean=300.0, gpu_util_mean=95.0, board_memory_max_bytes=8 * 2**30)
        write(
            run1,
            throughput("torch", "gpu", measurement, RUN1, 2000.0, 50.0, peak_gflops=50000.0, **gpu),
            environment("torch"),
        )
        write(
            run1,
            throughput("jax", "gpu", measurement, RUN1, 1500.0, 20.0, device_peak_bytes=None),
            environment("jax"),
        )
        # the second run measured the CPU again (torch a little faster): the report shows it by default
        for framework, (rate, half) in {**cpu_rates, "torch": (101.0, 5.0)}.items():
            write(run2, throughput(framework, "cpu", measurement, RUN2, rate, half), environment(framework, False))
    write(
        run1,
        Record("failure", "keras", "gpu", "throughput", RUN1, error=OOM, finished=finished(RUN1, 5)),
        environment("keras"),
    )
    for framework, top1 in (("torch", 0.81), ("jax", 0.8), ("keras", 0.79)):
        epochs = [
            {
                "epoch": 1,
                "train_loss": 0.9,
                "test_loss": 0.7,
                "test_top1": top1 - 0.1,
                "test_top5": 0.95,
                "seconds": 60.0,
            },
            {"epoch": 2, "train_loss": 0.6, "test_loss": 0.5, "test_top1": top1, "test_top5": 0.99, "seconds": 59.0},
        ]
        metrics = {
            "top1": top1,
            "top5": 0.99,
            "test_loss": 0.5,
            "train_loss": 0.6,
            "seconds": 119.0,
            "train_images": 16000,
            "peak_rss_bytes": 2 * 2**30,
            "device_peak_bytes": None,
            "diverged": 0,
            "seconds_to_top1_70": None if framework == "keras" else 100.0,
            "images_to_top1_70": None if framework == "keras" else 8000,
        }
        train = Record(
            "train",
            framework,
            "cpu",
            "accuracy",
            RUN1,
            batch_size=64,
            image_size=[64, 64],
            dataset="fashion-mnist/train",
            metrics=metrics,
            samples=epochs,
            settings={"epochs": 2},
            notes=["device peak memory: device memory applies to GPUs; on CPU see peak host RSS"],
            finished=finished(RUN1, 1),
        )
        write(run1, train, environment(framework))
    if parity:
        errors = {"torch": (1.5e-15, 2.0e-6), "jax": (0.0, 3.5e-6), "keras": (4.0e-16, 1.2e-6)}
        for framework, (tier1, tier2) in errors.items():
            record = Record(
                "parity",
                framework,
                "cpu",
                "small/torchvision",
                RUN1,
                precision="float64",
                metrics={"tier1_max_rel": tier1, "tier2_logits_max_rel": tier2},
                finished=finished(RUN1, 2),
            )
            write(run1, record, environment(framework))
    for label, world, rate in (("single", 1, 40.0), ("dp1", 1, 38.0), ("dp2", 2, 30.4)):
        metrics = {"world_size": world, "threads_per_rank": 2 // world, "images_per_s": rate, "rank_spread": 0.02,
                   "images_per_s_ci95_low": rate - 1, "images_per_s_ci95_high": rate + 1}  # fmt: skip
        metrics.update({"scaling_efficiency": rate / 38.0} if label.startswith("dp") else {"engine_cost_at_one": 0.05})
        scale = Record("scaling", "torch", "cpu", f"scale/{label}", RUN1, batch_size=32, metrics=metrics,
                       finished=finished(RUN1, 3))  # fmt: skip
        write(run1, scale, environment("torch"))
    (run2 / "broken.json").write_text('{"schema": "alexbench.record", "version": 1, "record": {')  # corrupt
    return root


def write_overhead(root: Path) -> None:
    """Two `alexbench overhead` documents: the newer one replaces the older one's jax/jit (a
    document from before the models axis: AlexNet) and adds VGG-11's, which replaces nothing."""
    phases = lambda ours, raw: {  # noqa: E731
        phase: {"ours_median_s": ours, "raw_median_s": raw, "ratio": raw / ours, "ratio_rounds": [raw / ours]}
        for phase in ("train", "inference")
    }
    settings = {"device": "cpu", "image_size": 224, "batch_size": 32}
    older = [{"framework": "jax", "mode": "jit", "phases": phases(2.0, 1.8)}, {"framework": "torch", "mode": "eager",
             "error": "torch worker died"}]  # fmt: skip
    newer = [{"framework": "jax", "mode": "jit", "phases": phases(1.0, 1.0)},
             {"model": "vgg11", "framework": "jax", "mode": "jit", "phases": phases(4.0, 3.0)}]  # fmt: skip
    for stamp, results in (("20260105T000000Z", older), ("20260106T000000Z", newer)):
        document = {"schema": "alexbench.overhead/1", "created": stamp, "settings": settings, "results": results}
        write_json(root / "overhead" / f"overhead-{stamp}.json", document)


@pytest.fixture(scope="module")
def results(tmp_path_factory) -> Path:
    root = write_records(tmp_path_factory.mktemp("records") / "results")
    write_overhead(root)
    return root


@pytest.fixture(scope="module")
def generated(results, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("report")
    assert main(["report", "--results", str(results), "--out", str(out)]) == 0
    return out


# ------------------------------------------------------------------------------ helpers
def notes_of(markdown: str) -> dict[int, str]:
    section = markdown.split("\n## Notes\n", 1)[1]
    return {int(m.group(1)): m.group(2) for m in re.finditer(r"^(\d+)\. (.*)$", section, re.MULTILINE)}


def tables(markdown: str, title: str) -> list[tuple[str | None, list[list[str]]]]:
    """(workload caption, rows with cells as text) of every Markdown table under `### title`, in order."""
    found = []
    for block in markdown.split(f"### {title}\n\n")[1:]:
        rows, rest = (block.split("\n\n", 1) + [""])[:2]
        line = rest.split("\n", 1)[0]
        caption = line.removeprefix("Workload: ").removesuffix(".") if line.startswith("Workload: ") else None
        lines = [line for line in rows.splitlines() if line.startswith("|")]
        found.append((caption, [[c.strip() for c in re.split(r"(?<!\\)\|", line)[1:-1]] for line in lines[2:]]))
    return found


def table(markdown: str, title: str, workload: str | None = None) -> list[list[str]]:
    """Rows (cells as text) of the Markdown table under `### title` (of `workload`: its caption starts so)."""
    found = [rows for caption, rows in tables(markdown, title) if (caption or "").startswith(workload or "")]
    assert found, f"no table {title!r}" + (f" of workload {workload!r}" if workload else "")
    return found[0]


def row(rows: list[list[str]], *first: str) -> list[str]:
    found = [r for r in rows if r[: len(first)] == list(first)]
    assert len(found) == 1, (first, rows)
    return found[0]


def split_cell(cell: str) -> tuple[str, list[int]]:
    """'—³,⁵' -> ('—', [3, 5])."""
    match = re.fullmatch(r"(.*?)([⁰¹²³⁴⁵⁶⁷⁸⁹,]*)", cell)
    text, marks = match.group(1), match.group(2)
    return text, [int(n.translate(SUPERSCRIPT)) for n in marks.split(",") if n]


def why(markdown: str, cell: str) -> list[str]:
    """The note texts behind a dash."""
    text, numbers = split_cell(cell)
    assert text == report.DASH and numbers, f"expected a dash with a note, got {cell!r}"
    notes = notes_of(markdown)
    return [notes[n] for n in numbers]


# -------------------------------------------------------------------------------- tests
TABLE_ACCURACY_TITLE = (
    "Top-1 and top-5 on the test split (%), over seeds: mean ± standard deviation [95% interval of the mean]"
)
TABLES = [
    "Training, compute only (images/s)",
    "Training, end to end (images/s)",
    "Inference, compute only (images/s)",
    "Inference, end to end (images/s)",
    "End to end as a fraction of compute-only (images/s)",
    "Data-parallel training images/s by world size",
    "GPU vs CPU (images/s, median [95% CI])",
    "Step latency and warm-up",
    "Peak memory (GiB)",
    "Energy (NVML)",
    "Achieved FLOP/s against the measured peak",
    "Execution modes, compute-only (images/s [95% CI]; efficiency in % of the matmul peak of the dtype it computes in)",
    "Ours vs a plain loop (CPU, 224x224, batch 32)",
    TABLE_ACCURACY_TITLE,
    "Accuracy per epoch (over seeds)",
    "Top-1, paired by seed (difference in points, a - b; paired t-test)",
    "Time to accuracy: training seconds and images until test top-1 first reached the threshold",
    "Parity error against float64",
    "Failed or skipped measurements",
    "Machines",
    "Software and settings",
]


BENCH = "alexnet (torchvision) · 224x224x3"  # the benchmarks' workload in these records
TRAIN = "alexnet (torchvision) · 64x64x? · float32 · fashion-mnist/train"  # the trainings' (no channels recorded)
UNGROUPED = {"Ours vs a plain loop (CPU, 224x224, batch 32)", "Parity error against float64",
             "Failed or skipped measurements", "Machines", "Software and settings"}  # fmt: skip
# the benchmarks and the trainings are two workloads: memory is one table each
TABLE_COUNT = len(TABLES) + 1


def test_every_table_and_plot_is_present(generated):
    markdown = (generated / "REPORT.md").read_text()
    page = (generated / "report.html").read_text()
    for title in TABLES:
        assert table(markdown, title), f"table {title!r} is empty"
        caption = f"<caption>{title.replace('&', '&amp;')}"
        assert caption + ("</caption>" if title in UNGROUPED else '<br><span class="workload">Workload: ') in page
        for workload, _ in tables(markdown, title):
            assert (workload is None) == (title in UNGROUPED), title  # every other table names its workload
    assert markdown.count("\n### ") == TABLE_COUNT and page.count("<table") == TABLE_COUNT
    assert [w for w, _ in tables(markdown, "Peak memory (GiB)")] == [f"{BENCH} · float32", TRAIN]
    assert [w for w, _ in tables(markdown, TABLE_ACCURACY_TITLE)] == [TRAIN]
    for title in (
        "Throughput on CPU",
        "Throughput on GPU",
        "Peak memory",
        "Convergence: test top-1 against images seen",
        "Parity error against float64 (log scale)",
        "Data-parallel training on CPU: images/s by world size",
    ):
        assert f"<title>{title}</title>" in page, title
    assert page.count("<svg") == 7  # a memory plot per workload
    # values from the records, in the right place
    overhead = table(markdown, "Ours vs a plain loop (CPU, 224x224, batch 32)")
    # documents without a model (written before the models axis) measured AlexNet
    assert row(overhead, "alexnet", "torch", "eager")[4].startswith("—")  # a failed measurement, with its note
    assert row(overhead, "alexnet", "jax", "jit", "train")[4:9] == [
        "1000.0",
        "1000.0",
        "1.000",
        "[1.00, 1.00]",
        "20260106T000000Z",
    ]
    assert row(overhead, "vgg11", "jax", "jit", "train")[4:7] == ["4000.0", "3000.0", "0.750"]
    modes = table(markdown, TABLES[11])
    assert row(modes, "GPU", "torch")[2:3] == ["eager"]  # records without a mode: what torch ran then
    assert row(table(markdown, "Training, compute only (images/s)"), "GPU", "torch")[5:7] == [
        "2000.0",
        "[1950.0, 2050.0]",
    ]
    assert row(table(markdown, "Energy (NVML)"), "GPU", "torch", "train/compute_only")[3:] == ["0.05", "300.0", "95.0"]
    efficiency = row(table(markdown, "Achieved FLOP/s against the measured peak"), "GPU", "torch", "train/compute_only")
    assert efficiency[4:] == ["4340.0", "50000.0", "8.7"]
    assert row(table(markdown, "Accuracy per epoch (over seeds)"), "CPU", "jax", "2")[6:8] == ["80.00", "99.00"]
    assert row(table(markdown, "Parity error against float64"), "jax", "CPU", "small/torchvision")[3:] == [
        "0",
        "3.50e-06",
    ]
    scaling = table(markdown, "Data-parallel training images/s by world size")
    assert [r[2] for r in scaling] == ["1, no engine", "dp1", "dp2"]  # in world-size order
    assert row(scaling, "CPU", "torch", "dp2")[3:10] == ["2", "1", "32", "30.4 [29.4, 31.4]", "0.80", "—", "2.0%"]
    assert row(scaling, "CPU", "torch", "1, no engine")[8] == "+5.0%"
    fraction = row(
        table(markdown, "End to end as a fraction of compute-only (images/s)"), "GPU", "torch", "eager", "train"
    )
    assert fraction[5:8] == ["2000.0", "2000.0", "1.00"]
    machines = table(markdown, "Machines")
    assert any("NVIDIA H100 80GB HBM3" in cell for r in machines for cell in r)
    software = row(table(markdown, "Software and settings"), RUN1, "keras", "CPU")
    assert software[3:] == [
        "keras=3.15.1, tensorflow=2.21.0",
        "threads=2",
        "float32, precision_mode=ieee, tf32=False",
        "OMP_NUM_THREADS=2",
    ]
    speedup = row(table(markdown, "GPU vs CPU (images/s, median [95% CI])"), "torch", "train/compute_only")
    assert speedup[2:] == ["101.0 [96.0, 106.0]", "2000.0 [1950.0, 2050.0]", "19.8x", "[18.4x, 21.4x]"]


def test_regenerating_gives_identical_bytes(results, generated, tmp_path):
    moved = tmp_path / "elsewhere" / "results"
    shutil.copytree(results, moved)
    for out, source in ((tmp_path / "again", results), (tmp_path / "moved", moved)):
        assert main(["report", "--results", str(source), "--out", str(out)]) == 0
        for name in ("REPORT.md", "report.html", "summary.csv"):
            assert (out / name).read_bytes() == (generated / name).read_bytes(), name


def test_missing_figures_are_dashes_with_notes_never_zero(generated):
    markdown = (generated / "REPORT.md").read_text()
    energy = table(markdown, "Energy (NVML)")
    assert NO_NVML in why(markdown, row(energy, "GPU", "jax", "inference/compute_only")[3])
    assert any("NVML" in n and "GPUs only" in n for n in why(markdown, row(energy, "CPU", "torch", "all")[3]))
    failed = row(table(markdown, "Training, compute only (images/s)"), "GPU", "keras")
    assert any(OOM in n and "failed in run" in n for n in why(markdown, failed[5]))
    assert failed[7] == report.DASH  # no rank for a failed run
    memory = row(table(markdown, "Peak memory (GiB)"), "GPU", "jax")
    assert any("peak_bytes_in_use" in n for n in why(markdown, memory[3]))
    assert memory[2] == "3.00"
    keras = row(table(markdown, "GPU vs CPU (images/s, median [95% CI])"), "keras", "inference/end_to_end")
    assert keras[2] == "50.0 [48.0, 52.0]" and any(OOM in n for n in why(markdown, keras[4]))
    cpu_peak = row(table(markdown, "Achieved FLOP/s against the measured peak"), "CPU", "torch", "train/end_to_end")
    assert any("peak not measured" in n for n in why(markdown, cpu_peak[5]))
    failures = row(table(markdown, "Failed or skipped measurements"), "keras", "GPU", "throughput")
    assert failures[3:] == [RUN1, OOM.replace("|", "\\|")]
    # no figure that is missing from the records reads as zero anywhere
    for title in TABLES[:13]:
        for cells in table(markdown, title):
            assert not any(split_cell(c)[0] in ("0", "0.0", "0.00") for c in cells), (title, cells)


def test_ties_within_noise_are_shown_as_ties(generated):
    markdown = (generated / "REPORT.md").read_text()
    for title in ("Training, compute only (images/s)", "Inference, end to end (images/s)"):
        rows = table(markdown, title)
        assert row(rows, "CPU", "torch")[7] == "1, tie (within noise)"  # 101 [96, 106]
        assert row(rows, "CPU", "jax")[7] == "1, tie (within noise)"  # 98 [93, 103] overlaps
        assert row(rows, "CPU", "keras")[7] == "3"  # 50 [48, 52] does not
        assert row(rows, "GPU", "torch")[7] == "1" and row(rows, "GPU", "jax")[7] == "2"
    page = (generated / "report.html").read_text()
    assert "1, tie (within noise)" in page


def test_latest_run_by_default_and_run_option(results, generated, tmp_path, capsys):
    latest = row(table((generated / "REPORT.md").read_text(), "Training, end to end (images/s)"), "CPU", "torch")
    assert latest[5] == "101.0" and latest[8] == RUN2
    assert main(["report", "--results", str(results), "--out", str(tmp_path), "--run", RUN1]) == 0
    markdown = (tmp_path / "REPORT.md").read_text()
    assert row(table(markdown, "Training, end to end (images/s)"), "CPU", "torch")[5] == "100.0"
    assert f"| {RUN2} |" not in markdown and f"run(s) {RUN1} (--run {RUN1})" in markdown
    assert main(["report", "--results", str(results), "--out", str(tmp_path), "--run", "nope"]) == 2
    err = capsys.readouterr().err
    assert "no records of run 'nope'" in err and RUN1 in err


def test_corrupt_file_is_skipped_with_a_printed_warning(results, tmp_path, capsys):
    assert main(["report", "--results", str(results), "--out", str(tmp_path)]) == 0
    err = capsys.readouterr().err
    assert "warning: skipping" in err and "broken.json" in err
    assert f"runs/{RUN2}/broken.json" in (tmp_path / "REPORT.md").read_text()


def test_summary_csv_one_row_per_cell(generated):
    rows = list(csv.DictReader(io.StringIO((generated / "summary.csv").read_text())))
    keys = [(r["kind"], r["framework"], r["device"], r["measurement"]) for r in rows]
    # 4 throughput per framework x device; training (its own workload) on the CPU only; parity
    assert len(keys) == len(set(keys)) == 3 * 2 * 4 + 3 + 3
    by = {k: r for k, r in zip(keys, rows)}
    torch_gpu = by[("throughput", "torch", "gpu", "train/compute_only")]
    assert torch_gpu["status"] == "ok" and float(torch_gpu["joules_per_image"]) == 0.05
    assert float(torch_gpu["efficiency"]) == pytest.approx(2000 * 2.17 / 50000)
    jax_gpu = by[("throughput", "jax", "gpu", "train/compute_only")]
    assert jax_gpu["joules_per_image"] == "" and jax_gpu["device_peak_bytes"] == ""
    keras_gpu = by[("throughput", "keras", "gpu", "inference/end_to_end")]
    assert keras_gpu["status"] == "failed" and OOM in keras_gpu["note"] and keras_gpu["images_per_s"] == ""
    assert ("train", "torch", "gpu", "accuracy") not in by  # nothing trained on the GPU: no row of that workload
    assert torch_gpu["workload"] == f"{BENCH} · float32"
    assert by[("train", "jax", "cpu", "accuracy")]["workload"] == TRAIN
    assert (torch_gpu["model"], torch_gpu["width"], torch_gpu["in_channels"]) == ("alexnet", "1.0", "3")
    assert by[("parity", "jax", "cpu", "small/torchvision")]["parity_tier1_max_rel"] == "0.0"
    assert by[("throughput", "jax", "cpu", "train/compute_only")]["rank"] == "1, tie (within noise)"


def test_without_parity_records_the_table_says_why(tmp_path):
    results = write_records(tmp_path / "results", parity=False)
    entries, _ = report.load(results)
    built, _ = report.build(entries)
    markdown = report.render_markdown(built)
    rows = table(markdown, "Parity error against float64")
    assert [r[0] for r in rows] == ["jax", "keras", "torch"]
    assert all("no parity record" in why(markdown, r[1])[0] for r in rows)
    assert "<title>Parity error against float64 (log scale)</title>" not in report.render_html(built)


def test_readme_table_between_markers(results, tmp_path, capsys):
    readme = tmp_path / "README.md"
    readme.write_text(f"# alexbench\n\nintro\n\n{report.README_BEGIN}\nold table\n{report.README_END}\n\nmore\n")
    out = tmp_path / "out"
    assert main(["report", "--results", str(results), "--out", str(out), "--readme", str(readme)]) == 0
    text = readme.read_text()
    assert "old table" not in text and text.startswith("# alexbench\n\nintro\n\n") and text.endswith("\n\nmore\n")
    embedded = text.split(report.README_BEGIN)[1].split(report.README_END)[0]
    lines = embedded.strip().splitlines()
    assert lines[0].startswith("| device | framework | mode (training / inference) | training images/s [95% CI] |")
    assert lines[2:8] == [  # the records' figures, ranks with ties, dashes with their notes
        "| CPU | jax | jit | 98.0 [93.0, 103.0] | 1, tie (within noise) | 98.0 [93.0, 103.0] "
        "| 1, tie (within noise) | 80.00 (n=1) | —¹ | 3.00 |",
        "| CPU | keras | xla | 50.0 [48.0, 52.0] | 3 | 50.0 [48.0, 52.0] | 3 | 79.00 (n=1) | —¹ | 3.00 |",
        "| CPU | torch | eager | 101.0 [96.0, 106.0] | 1, tie (within noise) | 101.0 [96.0, 106.0] "
        "| 1, tie (within noise) | 81.00 (n=1) | —¹ | 3.00 |",
        "| GPU | jax | jit | 1500.0 [1480.0, 1520.0] | 2 | 1500.0 [1480.0, 1520.0] | 2 | —² | —² | 3.00 |",
        "| GPU | keras | xla | —⁴ | — | —⁴ | — | —³ | —³ | —⁴ |",
        "| GPU | torch | eager | 2000.0 [1950.0, 2050.0] | 1 | 2000.0 [1950.0, 2050.0] | 1 | —⁵ | —⁵ | 3.00 |",
    ]
    assert f"from run(s) {RUN1}, {RUN2}." in embedded
    assert "- ¹ one seed per framework: the spread over seeds is unknown and nothing is ranked" in embedded
    assert "- ² no accuracy (training) record for jax on GPU" in lines
    assert any(line.startswith("- ⁴ keras on GPU: throughput failed") and OOM in line for line in lines)
    main(["report", "--results", str(results), "--out", str(out), "--readme", str(readme)])
    assert readme.read_text() == text  # idempotent
    bare = tmp_path / "bare.md"
    bare.write_text("# no markers\n")
    fresh = tmp_path / "fresh"
    assert main(["report", "--results", str(results), "--out", str(fresh), "--readme", str(bare)]) == 2
    err = capsys.readouterr().err
    assert "has no results markers" in err and report.README_BEGIN in err
    assert not fresh.exists() and bare.read_text() == "# no markers\n"  # nothing written


def test_html_is_self_contained(generated):
    page = (generated / "report.html").read_text()
    assert "<script" not in page.lower() and "@import" not in page and "url(" not in page
    assert not re.search(r"""(src|href)\s*=\s*["'](?!#|data:)""", page)
    assert "http://" not in page and "https://" not in page
    assert "display: none" not in page and "visibility: hidden" not in page  # nothing hidden


def chromium() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        if shutil.which(name):
            return shutil.which(name)
    return None


def test_html_opens_in_headless_chromium(generated, tmp_path):
    browser = chromium()
    if browser is None:
        if os.environ.get("ALEXBENCH_REQUIRE_ALL") == "1":
            pytest.fail("ALEXBENCH_REQUIRE_ALL=1 but chromium is not installed (apt-get install chromium)")
        pytest.skip("chromium is not installed (apt-get install chromium)")
    url = (generated / "report.html").resolve().as_uri()

    def run(*args):
        return subprocess.run(
            [
                browser,
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                f"--user-data-dir={tmp_path / 'profile'}",
                "--enable-logging=stderr",
                "--v=0",
                *args,
                url,
            ],
            capture_output=True,
            text=True,
            timeout=60,
            cwd=tmp_path,
        )

    done = run("--dump-dom")
    assert done.returncode == 0, done.stderr[-2000:]
    errors = [line for line in done.stderr.splitlines() if "CONSOLE" in line or "Uncaught" in line]
    assert not errors, errors
    dom = done.stdout
    assert dom.count("<table") == TABLE_COUNT and dom.count("<svg") == 7
    assert "1, tie (within noise)" in dom and "<td>Test CPU 9000</td>" in dom
    shot = tmp_path / "shot.png"
    done = run("--screenshot=" + str(shot), "--window-size=1200,1600", "--hide-scrollbars")
    assert done.returncode == 0 and shot.is_file(), done.stderr[-2000:]
    assert not [line for line in done.stderr.splitlines() if "CONSOLE" in line or "Uncaught" in line]
    Image = pytest.importorskip("PIL.Image")
    image = Image.open(shot).convert("L")
    dark = sum(image.histogram()[:128])  # text, table borders and bars: the page is not blank
    assert dark > 0.005 * image.width * image.height


def test_hostile_text_in_records_cannot_inject_markdown_html_or_formulas(tmp_path):
    """Run ids and dataset (folder) names come from users and from record files: in
    REPORT.md they cannot split a table row, open HTML or a code span; in summary.csv they
    cannot start a formula."""
    run = "=1+2|<b>`x`</b>"
    dataset = "@folder/<img src=x>|evil/train"
    train = Record(
        "train", "torch", "cpu", "accuracy", run, batch_size=8, image_size=[64, 64], dataset=dataset,
        metrics={"top1": 0.5, "top5": 0.9}, samples=[], finished="2026-01-01T00:00:00Z",
    )  # fmt: skip
    write(tmp_path / "results" / "runs" / "hostile", train, environment("torch", gpu=False))
    out = tmp_path / "out"
    assert main(["report", "--results", str(tmp_path / "results"), "--out", str(out)]) == 0
    markdown = (out / "REPORT.md").read_text()
    line = next(line for line in markdown.splitlines() if "evil" in line and line.startswith("| CPU | torch |"))
    assert "\\|evil" in line and "&lt;img src=x&gt;" in line and "<img" not in markdown
    assert "=1+2\\|&lt;b&gt;\\`x\\`&lt;/b&gt;" in line
    cells = [c for c in re.split(r"(?<!\\)\|", line)[1:-1]]
    assert len(cells) == len(table(markdown, TABLE_ACCURACY_TITLE)[0])  # the row is one row
    rows = list(csv.DictReader(io.StringIO((out / "summary.csv").read_text())))
    accuracy = next(r for r in rows if r["kind"] == "train")
    assert accuracy["run_id"] == "'" + run and accuracy["dataset"] == "'" + dataset
    page = (out / "report.html").read_text()
    assert "<img" not in page and "&lt;img src=x&gt;" in page


def test_modes_best_is_reported_like_with_like(tmp_path):
    """A --modes best run: the headline tables show each framework's fastest float32 mode
    per phase (and say which); the bfloat16 winners, though faster here, are ranked only
    against each other; the trial's default, winner and margin are shown per machine."""
    root = tmp_path / "results"
    run = root / "runs" / "best"
    won = {  # (framework, mode) -> {phase: (class, images/s)}
        ("torch", "eager"): {"train": ("float32", 30.0)},
        ("torch", "channels_last"): {"inference": ("float32", 103.0)},
        ("torch", "bf16"): {"train": ("bfloat16", 95.0), "inference": ("bfloat16", 300.0)},
        ("jax", "jit"): {"train": ("float32", 18.0), "inference": ("float32", 85.0)},
        ("jax", "bf16"): {"train": ("bfloat16", 16.0), "inference": ("bfloat16", 62.0)},
    }
    for (framework, mode), phases in won.items():
        for phase, (klass, rate) in phases.items():
            record = throughput(framework, "cpu", f"{phase}/compute_only", "best", rate, rate / 50)
            record.mode, record.precision = mode, klass
            record.settings["selection"] = {"class": klass, "won": phase}
            write(run, record, environment(framework, gpu=False))
    for framework, default, klass, winners, rates in (
        ("torch", "channels_last", "float32", {"train": "eager", "inference": "channels_last"},
         {"train": {"eager": 30.0, "channels_last": 28.0}, "inference": {"eager": 90.0, "channels_last": 103.0}}),
        ("torch", "channels_last", "bfloat16", {"train": "bf16", "inference": "bf16"},
         {"train": {"bf16": 95.0}, "inference": {"bf16": 300.0}}),
        ("jax", "jit", "float32", {"train": "jit", "inference": "jit"},
         {"train": {"jit": 18.0}, "inference": {"jit": 85.0}}),
    ):  # fmt: skip
        metrics = {f"{p}/{m}/images_per_s": r for p, by in rates.items() for m, r in by.items()}
        metrics.update({f"{p}/margin_over_default": rates[p][winners[p]] / rates[p][default]
                        for p in winners if default in rates[p]})  # fmt: skip
        settings = {"class": klass, "winners": winners, "default": default, "candidates": sorted(rates["train"])}
        write(run, Record("selection", framework, "cpu", klass, "best", metrics=metrics, settings=settings,
                          finished="2026-01-03T00:00:00Z"), environment(framework, gpu=False))  # fmt: skip
    out = tmp_path / "out"
    assert main(["report", "--results", str(root), "--out", str(out)]) == 0
    markdown = (out / "REPORT.md").read_text()
    train = table(markdown, "Training, compute only (images/s)")
    assert row(train, "CPU", "torch")[2] == "eager" and row(train, "CPU", "torch")[5] == "30.0"
    assert row(train, "CPU", "jax")[2] == "jit" and row(train, "CPU", "jax")[7] == "2"
    inference = table(markdown, "Inference, compute only (images/s)")
    assert row(inference, "CPU", "torch")[2] == "channels_last" and row(inference, "CPU", "torch")[7] == "1"
    assert "bf16" not in markdown.split("### Fastest bfloat16 mode")[0].split("## Throughput")[1]  # never mixed in
    bf16 = table(markdown, "Fastest bfloat16 mode, compute only (images/s; ranked among bfloat16 modes only)")
    assert [r[:4] + r[8:9] for r in bf16] == [
        ["CPU", "jax", "Training, compute only", "bf16", "2"],
        ["CPU", "torch", "Training, compute only", "bf16", "1"],
        ["CPU", "jax", "Inference, compute only", "bf16", "2"],
        ["CPU", "torch", "Inference, compute only", "bf16", "1"],
    ]
    chosen = table(markdown, "Chosen by `--modes best` (compute-only images/s in the trial)")
    assert row(chosen, "CPU", "torch", "float32", "train")[4:7] == ["channels_last (28.0)", "eager (30.0)", "1.07x"]
    assert row(chosen, "CPU", "torch", "float32", "inference")[4:7] == [
        "channels_last (103.0)", "channels_last (103.0)", "1.00x"]  # fmt: skip
    assert row(chosen, "CPU", "torch", "bfloat16", "train")[4:7] == ["channels_last (not in this class)", "bf16 (95.0)",
                                                                    "—"]  # fmt: skip
    summary = report.markdown_cpu_table(report.load(root)[0])
    assert "| CPU | torch | eager / channels_last | 30.0" in summary


def seeded_train(framework: str, run: str, seed: int, top1: float, seconds_to_60: float | None) -> Record:
    curve = [{"epoch": 1, "images": n, "seconds": n / 100, "test_top1": top1 * n / 4000, "test_top5": 0.9,
              "test_loss": 1.0} for n in (1000, 2000, 3000, 4000)]  # fmt: skip
    metrics = {
        "top1": top1,
        "top5": 0.99,
        "test_loss": 0.6,
        "seconds": 50.0,
        "train_images": 4000,
        "seconds_to_top1_60": seconds_to_60,
        "images_to_top1_60": None if seconds_to_60 is None else 3000,
    }
    return Record("train", framework, "cpu", "accuracy", run, batch_size=64, image_size=[64, 64],
                  dataset="fashion-mnist/train", metrics=metrics, settings={"epochs": 1, "seed": seed}, seed=seed,
                  curve=curve, finished=f"2026-01-05T00:0{seed}:00Z")  # fmt: skip


def test_accuracy_is_ranked_only_where_a_paired_test_says_so(tmp_path):
    """keras and torch trade places from seed to seed: a tie within seed noise; jax trails on
    every seed: ranked third. One seed per framework ranks nothing."""
    root = tmp_path / "results"
    top1 = {"keras": (0.82, 0.80, 0.80), "torch": (0.80, 0.83, 0.78), "jax": (0.70, 0.72, 0.69)}
    for framework, values in top1.items():
        for seed, value in enumerate(values):
            record = seeded_train(framework, "seeds", seed, value, 30.0 + seed if framework != "jax" else None)
            write(root / "runs" / "seeds", record, environment(framework, gpu=False))
    out = tmp_path / "out"
    assert main(["report", "--results", str(root), "--out", str(out)]) == 0
    markdown = (out / "REPORT.md").read_text()
    summary = table(markdown, TABLE_ACCURACY_TITLE)
    assert row(summary, "CPU", "keras")[5:7] == ["3", "80.67 ± 1.15 [77.80, 83.54]"]
    assert [row(summary, "CPU", f)[10] for f in ("keras", "torch", "jax")] == [
        "1, tie within seed noise", "1, tie within seed noise", "3"]  # fmt: skip
    pairs = table(markdown, "Top-1, paired by seed (difference in points, a - b; paired t-test)")
    assert row(pairs, "CPU", "keras vs torch")[6] == "tie within seed noise"
    assert row(pairs, "CPU", "jax vs keras")[6] == "keras better" and row(pairs, "CPU", "jax vs torch")[2] == "3"
    tta = table(markdown, "Time to accuracy: training seconds and images until test top-1 first reached the threshold")
    assert row(tta, "CPU", "jax", "60%")[3] == "0 of 3" and row(tta, "CPU", "keras", "60%")[3] == "3 of 3"
    page = (out / "report.html").read_text()
    assert "<title>Convergence: test top-1 against images seen</title>" in page
    assert page.count('fill-opacity="0.2"') == 3  # one band (the seeds' spread) per framework
    readme = report.markdown_cpu_table(report.load(root)[0])
    assert "| 80.67 ± 1.15 (n=3) | 1, tie within seed noise |" in readme

    one = tmp_path / "one"
    for framework, values in top1.items():
        write(one / "runs" / "single", seeded_train(framework, "single", 0, values[0], None),
              environment(framework, gpu=False))  # fmt: skip
    assert main(["report", "--results", str(one), "--out", str(tmp_path / "out1")]) == 0
    markdown = (tmp_path / "out1" / "REPORT.md").read_text()
    ranks = [split_cell(r[10])[0] for r in table(markdown, TABLE_ACCURACY_TITLE)]
    assert ranks == [report.DASH] * 3  # n = 1: nothing is ranked
    assert any("nothing is ranked" in n for n in notes_of(markdown).values())


def test_ranks_compare_the_records_of_one_run(tmp_path):
    """A framework measured in another run (another machine or load) keeps its figure but is
    not ranked against the others, and the note says which run it came from."""
    for framework, run, rate in (("torch", RUN1, 80.0), ("jax", RUN1, 100.0), ("keras", RUN2, 200.0)):
        write(tmp_path / "runs" / run, throughput(framework, "cpu", "train/compute_only", run, rate, 2.0),
              environment(framework, gpu=False))  # fmt: skip
    out = tmp_path / "report"
    assert main(["report", "--results", str(tmp_path), "--out", str(out)]) == 0
    markdown = (out / "REPORT.md").read_text()
    rows = table(markdown, "Training, compute only (images/s)")
    assert row(rows, "CPU", "jax")[7] == "1" and row(rows, "CPU", "torch")[7] == "2"
    keras = row(rows, "CPU", "keras")
    assert keras[5] == "200.0" and any(f"measured in run {RUN2}, not beside" in t for t in why(markdown, keras[7]))


def test_overhead_documents_at_other_settings_are_not_merged(tmp_path):
    """A newer `alexbench overhead --width 0.125` document is shown alone, its width in the
    title: its rows neither replace nor sit beside the full-width ones under one heading."""
    from harness import results as store

    root = write_records(tmp_path / "results")
    write_overhead(root)
    result = {"framework": "torch", "mode": "eager", "phases": {"train": {"ours_median_s": 1.0, "raw_median_s": 1.0,
              "ratio": 1.0, "ratio_rounds": [1.0]}}}  # fmt: skip
    settings = {"device": "cpu", "image_size": 224, "batch_size": 32, "width": 0.125}
    write_json(root / "overhead" / "overhead-20260107T000000Z.json",
               {"schema": "alexbench.overhead/1", "created": "20260107T000000Z", "settings": settings,
                "results": [result]})  # fmt: skip
    merged = report.latest_overhead(store.Layout(root))
    assert merged["created"] == "20260107T000000Z" and merged["settings"]["width"] == 0.125
    assert [(r["framework"], r["mode"]) for r in merged["results"]] == [("torch", "eager")]
    report.generate(root, tmp_path / "report")
    markdown = (tmp_path / "report" / "REPORT.md").read_text()
    assert "Ours vs a plain loop (CPU, 224x224, batch 32, width 0.125)" in markdown
