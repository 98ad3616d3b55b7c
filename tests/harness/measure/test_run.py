"""`alexbench run` end to end on tiny settings, its records, and its failure handling."""

import json

import pandas as pd
import pytest

import impls
from harness import results
from harness.cli import main
from impls.modes import DEFAULT_MODE
from tests import fault_workers
from tests.conftest import require

TINY_RUN = [
    "run", "--devices", "cpu", "--epochs", "1", "--train-subset", "40", "--train-image-size", "63",
    "--image-size", "67", "--batch-size", "2", "--repeats", "3", "--train-steps", "2", "--inference-steps", "2",
    "--warmup", "1", "--seeds", "1", "--width", "0.125",
]  # fmt: skip


def test_record_round_trips_and_pandas_reads_it(tmp_path):
    record = results.Record(
        "throughput", "torch", "cpu", "train/compute_only", "r1", batch_size=32, image_size=[224, 224],
        metrics={"images_per_s": 40.5, "joules_per_image": None, "nan": float("nan")}, samples=[0.1, 0.2],
    )  # fmt: skip
    path = results.write(tmp_path, record, {"cpu_model": "x"})
    again, environment = results.read(path)
    assert again.metrics["images_per_s"] == 40.5 and again.metrics["nan"] is None  # NaN stored as null
    assert again.samples == [0.1, 0.2] and environment == {"cpu_model": "x"}
    assert json.loads(path.read_text())["version"] == results.VERSION
    frame = results.load(tmp_path)
    assert isinstance(frame, pd.DataFrame) and frame.loc[0, "images_per_s"] == 40.5


def test_corrupt_record_is_skipped_with_a_warning(tmp_path):
    results.write(tmp_path, results.Record("failure", "jax", "cpu", "setup", "r", error="x"), {})
    (tmp_path / "broken.json").write_text('{"schema": "alexbench.rec')
    with pytest.warns(UserWarning, match="skipping .*broken.json"):
        frame = results.load(tmp_path)
    assert len(frame) == 1


def test_tiny_run_records_every_framework(tmp_path, mini_fashion, capsys):
    installed = impls.available()
    code = main([*TINY_RUN, "--out", str(tmp_path), "--run-id", "tiny", "--data-dir", str(mini_fashion)])
    out = capsys.readouterr().out
    assert code == 0, out
    frame = results.load(tmp_path)
    for framework in installed:
        rows = frame[frame.framework == framework]
        train = rows[rows.kind == "train"].iloc[0]
        assert 0 <= train.top1 <= 1 and 0 <= train.top5 <= 1 and train.top5 >= train.top1
        bench = rows[rows.kind == "throughput"]
        assert sorted(bench.measurement) == sorted(
            f"{p}/{m}" for p in ("train", "inference") for m in ("compute_only", "end_to_end")
        )
        for _, row in bench.iterrows():
            if row.measurement.endswith("end_to_end"):  # stated against compute-only, as the report shows it
                assert row.ratio_to_compute_only > 0
            assert len(row.samples) == row.steps == 6
            assert row.images_per_s > 0 and pd.notna(row.images_per_s_ci95_low)  # spread, not one number
            assert row.images_per_s_ci95_low <= row.images_per_s <= row.images_per_s_ci95_high
            assert row.warmup_first_seconds > 0 and row.achieved_gflops > 0 and row.peak_rss_bytes > 2**20
            env = row.environment
            assert env["versions"] and env["cpu_model"] and env["settings"]["threads"] >= 1
            assert env["modes"]["default"] == DEFAULT_MODE[framework] == row["mode"]  # the report reads this
            assert "hostname" not in json.dumps(env).lower()
    assert "throughput" in out and "top-1" in out
    pipeline = frame[frame.kind == "pipeline"].iloc[0]  # the input pipeline alone, at the same batch and size
    assert pipeline.images_per_s > 0 and pipeline.batch_size == 2 and list(pipeline.image_size) == [67, 67]


def test_a_crashing_framework_is_recorded_and_the_others_finish(tmp_path, mini_fashion, monkeypatch):
    frameworks = [f for f in impls.available() if f != "keras"][:2]  # two light ones suffice
    if len(frameworks) < 2:
        pytest.skip("needs two installed frameworks")
    victim, survivor = frameworks
    fault_workers.use(monkeypatch, "CrashOnHello", framework=victim)
    args = [*TINY_RUN, "--skip-throughput", "--frameworks", ",".join(frameworks), "--out", str(tmp_path),
            "--run-id", "crash", "--data-dir", str(mini_fashion)]  # fmt: skip
    assert main(args) == 1
    frame = results.load(tmp_path)
    failure = frame[(frame.kind == "failure") & (frame.framework == victim)].iloc[0]
    assert "died (exit code 3)" in failure.error
    assert len(frame[(frame.kind == "train") & (frame.framework == survivor)]) == 1


def test_resume_skips_what_is_recorded(tmp_path, mini_fashion, capsys):
    args = [*TINY_RUN, "--skip-throughput", "--frameworks", "torch", "--out", str(tmp_path), "--run-id", "r",
            "--data-dir", str(mini_fashion)]  # fmt: skip
    assert main(args) == 0
    # mode, seed and workload (model, variant, size, channels, width) in the name
    name = f"train-torch-cpu-accuracy-{DEFAULT_MODE['torch']}-seed0-alexnet-torchvision-63x63c3-w0.125.json"
    record = tmp_path / "runs" / "r" / name
    before = record.read_bytes()
    assert main([*args, "--resume"]) == 0
    assert "already recorded (--resume)" in capsys.readouterr().out
    assert record.read_bytes() == before


def test_gpu_requested_without_gpu_is_a_clear_failure_record(tmp_path, mini_fashion):
    require("torch")
    import torch

    if torch.cuda.is_available():
        pytest.skip("a GPU is present")
    args = [*TINY_RUN, "--skip-throughput", "--frameworks", "torch", "--devices", "gpu", "--out", str(tmp_path),
            "--run-id", "g", "--data-dir", str(mini_fashion)]  # fmt: skip
    with pytest.raises(Exception, match="nothing to run"):
        main(["--debug", *args])
    frame = results.load(tmp_path)
    assert "no GPU found by torch" in frame.iloc[0].error


def test_seeds_are_replicates_paired_across_frameworks(tmp_path, mini_fashion):
    """--seeds 2: each framework trains twice, seeds 0 and 1, with the same settings but the
    seed; every record keeps its convergence curve and time to accuracy."""
    require("torch")
    require("jax")
    args = [*TINY_RUN, "--skip-throughput", "--frameworks", "torch,jax", "--seeds", "2", "--out", str(tmp_path),
            "--run-id", "seeds", "--data-dir", str(mini_fashion)]  # fmt: skip
    assert main(args) == 0
    found = [r for _, r, _ in results.load_all(tmp_path) if r.kind == "train"]
    assert sorted((r.framework, r.seed) for r in found) == [("jax", 0), ("jax", 1), ("torch", 0), ("torch", 1)]
    for r in found:
        assert r.settings["seed"] == r.seed
        assert r.curve and r.curve[-1]["images"] == 40 and r.curve[-1]["test_top1"] == r.metrics["top1"]
        assert [p["images"] for p in r.curve] == sorted(p["images"] for p in r.curve)
        assert {"seconds_to_top1_50", "images_to_top1_70"} <= set(r.metrics)
    without_seed = {json.dumps({k: v for k, v in r.settings.items() if k != "seed"}, sort_keys=True) for r in found}
    assert len(without_seed) == 1  # one experiment: replicates differ in the seed only


def test_every_batch_size_is_measured_and_the_first_is_the_headline(tmp_path):
    require("torch")
    at = TINY_RUN.index("--batch-size")
    tiny = TINY_RUN[:at] + TINY_RUN[at + 2 :]  # the flag and its value
    args = [*tiny, "--skip-accuracy", "--frameworks", "torch", "--batch-sizes", "2,3", "--out", str(tmp_path),
            "--run-id", "batches"]  # fmt: skip
    assert main(args) == 0
    found = [r for _, r, _ in results.load_all(tmp_path)]
    throughput = sorted((r.batch_size, r.measurement) for r in found if r.kind == "throughput")
    assert throughput == [(b, f"{p}/{q}") for b in (2, 3) for p in ("inference", "train")
                          for q in ("compute_only", "end_to_end")]  # fmt: skip
    assert sorted(r.batch_size for r in found if r.kind == "pipeline") == [2, 3]
    assert {r.settings["headline_batch"] for r in found if r.kind == "throughput"} == {2}
    from harness import report

    out = tmp_path / "report"
    report.generate(tmp_path, out)
    markdown = (out / "REPORT.md").read_text()
    assert "### Compute-only images/s by batch size" in markdown and "Train, compute only, on CPU: images/s by" in (
        out / "report.html").read_text()  # fmt: skip
    headline = markdown.split("### Training, compute only (images/s)")[1].split("###")[0]
    assert "| CPU | torch | channels_last | 2 |" in headline and "| 3 |" not in headline
