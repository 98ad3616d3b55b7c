"""Workload identity in records: version 3 names model, width and input channels; its keys
(file names) name the workload, so two workloads of one run never overwrite each other;
version 1 and 2 records read as they are, with the defaults of their version, under their
old names; and --resume finds what this version wrote, and what older versions wrote."""

from __future__ import annotations

import json
from dataclasses import dataclass, field

import pytest

from harness import results
from harness.results import Record, Workload

V2_THROUGHPUT = {  # a throughput record as version 2 wrote it: no model, width or in_channels
    "kind": "throughput", "framework": "torch", "device": "cpu", "measurement": "train/compute_only",
    "run_id": "old", "variant": "torchvision", "precision": "float32", "mode": "channels_last", "batch_size": 32,
    "image_size": [224, 224], "dataset": "synthetic", "metrics": {"images_per_s": 16.3}, "samples": [1.9],
    "settings": {"batch_size": 32, "variant": "torchvision", "image_size": 224}, "notes": [], "error": None,
    "started": None, "finished": "2026-11-28T00:00:00Z", "seed": None, "curve": [],
}  # fmt: skip
V2_TRAIN = {
    **V2_THROUGHPUT, "kind": "train", "measurement": "accuracy", "image_size": [64, 64],
    "dataset": "fashion-mnist/train", "seed": 0, "settings": {"image_size": 64, "in_channels": 1, "seed": 0},
}  # fmt: skip


def write_envelope(path, fields: dict, version: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    payload = {"schema": results.SCHEMA, "version": version, "environment": {}, "record": fields}
    path.write_text(json.dumps(payload))


def throughput(**changes) -> Record:
    fields = dict(V2_THROUGHPUT, run_id="r", in_channels=3)
    fields.update(changes)
    return Record(**fields)


@pytest.mark.parametrize("version", [1, 2])
def test_version_1_and_2_records_load_unchanged_with_the_defaults_of_their_version(tmp_path, version):
    write_envelope(tmp_path / "runs" / "old" / "throughput-torch-cpu-train_compute_only-channels_last-b32.json",
                   V2_THROUGHPUT, version)  # fmt: skip
    write_envelope(tmp_path / "runs" / "old" / "train-torch-cpu-accuracy-channels_last-seed0.json", V2_TRAIN, version)
    found = {r.kind: (path, r) for path, r, _ in results.load_all(tmp_path)}
    path, bench = found["throughput"]
    assert (bench.model, bench.width, bench.in_channels) == ("alexnet", 1.0, None)  # None: not recorded
    assert bench.key == path.stem  # the name the older version gave it: loading re-derives nothing new
    assert bench.workload == Workload("alexnet", "torchvision", 1.0, (224, 224), results.LEGACY_IN_CHANNELS,
                                      "synthetic", "float32")  # fmt: skip
    path, train = found["train"]
    assert train.key == path.stem
    assert train.workload.in_channels == 1  # a training's channels: its settings
    assert train.workload.label() == "alexnet (torchvision) · 64x64x1 · float32 · fashion-mnist/train"


def test_version_3_envelopes_and_their_fields_round_trip(tmp_path):
    record = throughput(model="alexnet", width=0.25)
    path = results.write(tmp_path, record, {})
    payload = json.loads(path.read_text())
    assert payload["version"] == results.VERSION == 3
    assert {k: payload["record"][k] for k in ("model", "width", "in_channels")} == {
        "model": "alexnet", "width": 0.25, "in_channels": 3}  # fmt: skip
    read, _ = results.read(path)
    assert read == record and read.workload.label() == "alexnet (torchvision) · 224x224x3 · float32 · width 0.25"


def test_two_workloads_of_one_run_get_different_keys_and_files(tmp_path):
    base = throughput()
    others = [throughput(image_size=[128, 128]), throughput(variant="paper", image_size=[227, 227]),
              throughput(width=0.25), throughput(in_channels=1)]  # fmt: skip
    keys = [r.key for r in [base, *others]]
    assert len(set(keys)) == len(keys)
    assert base.key == "throughput-torch-cpu-train_compute_only-channels_last-b32-alexnet-torchvision-224x224c3"
    assert others[2].key.endswith("-alexnet-torchvision-224x224c3-w0.25")
    for record in [base, *others]:
        results.write(tmp_path, record, {})
    assert len(list(tmp_path.glob("*.json"))) == 5  # none overwrote another
    # the batch and the seed still tell measurements of one workload apart; the precision is the mode's
    assert throughput(settings={"batch_size": 64}).key != base.key


def test_resume_finds_what_this_version_and_older_versions_wrote():
    mine = throughput()
    probe = Record("throughput", "torch", "cpu", "train/compute_only", "", mode="channels_last",
                   settings={"batch_size": 32}, **Record.workload_fields({"variant": "torchvision", "image_size": 224,
                                                                           "in_channels": 3}))  # fmt: skip
    assert results.recorded({mine.key: mine}, probe) is mine
    legacy = Record(**V2_THROUGHPUT)  # read from a run an older alexbench began
    assert results.recorded({legacy.key: legacy}, probe) is legacy
    other_size = Record(**{**V2_THROUGHPUT, "image_size": [128, 128]})  # the same old name, another workload
    assert results.recorded({other_size.key: other_size}, probe) is None
    assert results.recorded({mine.key: mine}, Record(**{**probe.__dict__, "width": 0.5})) is None


@dataclass
class WithImageWidth:  # a config from before `width` was a field: there it was the image width
    variant: str = "paper"
    image_size: tuple[int, int] = (227, 227)
    in_channels: int = 3

    @property
    def width(self) -> int:
        return self.image_size[1]


@dataclass
class WithModel:
    variant: str = "torchvision"
    image_size: int = 64
    in_channels: int = 1
    model: str = "alexnet"
    width: float = 0.5
    extra: dict = field(default_factory=dict)


def test_model_fields_read_a_config_before_and_after_it_names_model_and_width():
    assert Record.model_fields(WithImageWidth()) == {"model": "alexnet", "width": 1.0, "in_channels": 3}
    assert Record.workload_fields(WithModel()) == {"variant": "torchvision", "image_size": [64, 64],
                                                   "model": "alexnet", "width": 0.5, "in_channels": 1}  # fmt: skip
    assert Record.model_fields({"in_channels": 3, "width": 0.25}) == {"model": "alexnet", "width": 0.25,
                                                                       "in_channels": 3}  # fmt: skip


def test_written_records_are_found_by_the_probe_resume_builds():
    """The probe Runner.skip builds from a config (Record.workload_fields) has the key of the
    record made from the same config (summary.py: variant, image_size, model_fields)."""
    config = WithModel(image_size=96)
    written = Record("train", "torch", "cpu", "accuracy", "r", variant=config.variant, mode="eager",
                     image_size=[config.image_size] * 2, seed=0, **Record.model_fields(config))  # fmt: skip
    probe = Record("train", "torch", "cpu", "accuracy", "", mode="eager", seed=0, **Record.workload_fields(config))
    assert probe.key == written.key and results.recorded({written.key: written}, probe) is written
