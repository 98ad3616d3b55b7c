"""The whole parity run of `alexbench parity`: for each network ("model/variant"), tiers 1 and
2 on its small config (and tiers 3 and 4 for the execution modes), then logits at full size;
then the data-parallel tiers for each model; the tables are printed as each part finishes,
and everything is collected for the document."""

from __future__ import annotations

import gc
import time
from dataclasses import asdict, dataclass, field

from harness.parity.distributed import data_parallel
from harness.parity.document import format_table
from harness.parity.flips import FlipReport, describe_flips
from harness.parity.metrics import F32_REFERENCE, TIER_TITLES, Check
from harness.parity.runs import TRAJECTORY_STEPS, full_config, make_inputs, net_of, small_config
from harness.parity.tiers import full_size, mode_tiers, tier1, tier1_uint8, tier2
from impls.config import AlexNetConfig, SGDConfig


@dataclass
class Suite:
    """What to check (from the command line) and, once run, everything that was found."""

    nets: list[str]  # "model/variant" (harness.parity.runs.net_of)
    frameworks: list[str]
    size: str  # small, full or both
    steps: int | None  # of the trajectories (None: each model's, runs.TRAJECTORY_STEPS)
    batch: int
    seed: int
    optimizer: SGDConfig
    device: str
    modes: dict[str, list[str]] | None  # None: every non-default mode; {}: none
    data_parallel: int = 0  # world size of tiers 5 and 6 (0: skip them)
    width: float | None = None  # of the small configs (None: each model's, runs.SMALL_WIDTHS; tests use less)
    rows: list[Check] = field(default_factory=list)
    flips: dict[str, FlipReport] = field(default_factory=dict)
    configs: dict[str, dict] = field(default_factory=dict)
    timings: dict[str, float] = field(default_factory=dict)
    mode_skips: dict[str, str] = field(default_factory=dict)
    data_parallel_skips: dict[str, str] = field(default_factory=dict)  # framework -> why it has no tiers 5-6

    def run(self) -> Suite:
        for net in self.nets:
            if self.size in ("small", "both"):
                self._timed(f"{net}/small", self.small, net)
            if self.size in ("full", "both"):
                self._timed(f"{net}/full", self.full, net)
            print()
        if self.data_parallel and self.size in ("small", "both") and self.frameworks:
            firsts = {net_of(net)[0]: net for net in reversed(self.nets)}  # each model's first network
            for net in sorted(firsts.values(), key=self.nets.index):
                self._timed(f"{net}/data-parallel", self.distributed, net)
        return self

    def _timed(self, key: str, part, net: str) -> None:
        start = time.perf_counter()
        part(net)
        gc.collect()
        self.timings[key] = round(time.perf_counter() - start, 2)

    def small(self, net: str) -> None:
        steps = self.steps_of(net)
        inputs = make_inputs(small_config(net, width=self.width), steps, self.batch, self.seed, self.optimizer)
        self.configs[f"{net}/small"] = asdict(inputs.config)
        inputs.ensure_references(float32=True)  # golden + float32 reference, in lockstep
        # tier 2 first: it frees the float32 reference before tier 1's float64 models come
        two, flips = tier2(net, frameworks=self.frameworks, device=self.device, inputs=inputs)
        self.flips[net] = flips
        one = tier1(net, frameworks=self.frameworks, device=self.device, inputs=inputs)
        print(format_table(one, self.title(1, net, inputs.config)))
        normalized = tier1_uint8(net, self.frameworks, self.device, min(steps, 3), self.batch, self.seed,
                                 self.width)
        print(format_table(normalized, f"tier 1, float64, uint8 gray input normalized on the device: {net}, "
                                       f"batch {self.batch}, {min(steps, 3)} SGD steps"))  # fmt: skip
        one += normalized
        print(format_table(two, self.title(2, net, inputs.config)))
        print(f"  {F32_REFERENCE} vs float64, batch 0 at the initial weights: {describe_flips(flips.initial)}")
        print(f"  {F32_REFERENCE} vs float64 along the trajectory: {flips.describe_trajectory()}")
        self.rows += one + two
        if self.modes != {}:
            more, skips = mode_tiers(net, self.frameworks, self.device, inputs, self.modes)
            for tier in (3, 4):
                print(format_table([r for r in more if r.tier == tier], self.title(tier, net, inputs.config)))
            for label, why in skips.items():
                print(f"  {label}: skipped: {why}")
                self.mode_skips[f"{net}/{label}"] = why
            self.rows += more

    def distributed(self, net: str) -> None:
        """Tiers 5 and 6: each framework's data-parallel engine on `data_parallel` processes
        against one process, float64 and float32, with the controls that must fail."""
        batch = 4 * self.data_parallel  # shards of 4, like the other tiers' batches
        steps = min(self.steps_of(net), 5)
        for tier, dtype in ((5, "float64"), (6, "float32")):
            rows = data_parallel(self.frameworks, dtype, self.data_parallel, steps, batch, self.seed,
                                 self.device, net, self.optimizer, width=self.width,
                                 skipped=self.data_parallel_skips)  # fmt: skip
            print(format_table(rows, f"{TIER_TITLES[tier]}: {net}, global batch {batch} in "
                                     f"{self.data_parallel} shards, {steps} SGD steps"))  # fmt: skip
            self.rows += rows
        for framework, why in self.data_parallel_skips.items():
            print(f"  {framework}: tiers 5-6 skipped: {why}")

    def full(self, net: str) -> None:
        config = full_config(net)
        self.configs[f"{net}/full"] = asdict(config)
        rows = full_size(net, self.frameworks, self.batch, self.seed, self.device)
        h, w = config.image_size
        for tier, kind in ((1, "tier 1, float64"), (2, "tier 2, float32 vs the float64 golden")):
            title = f"full size, logits only, {kind}: {net} {h}x{w}, {config.num_classes} classes"
            print(format_table([r for r in rows if r.tier == tier], f"{title}, batch {self.batch}"))
        self.rows += rows

    def steps_of(self, net: str) -> int:
        return self.steps if self.steps is not None else TRAJECTORY_STEPS.get(net_of(net)[0], 20)

    def title(self, tier: int, net: str, config: AlexNetConfig) -> str:
        h, w = config.image_size
        opt = self.optimizer
        width = f", width {config.width:g}" if config.width != 1.0 else ""
        return (
            f"{TIER_TITLES[tier]}: {net} {h}x{w}{width}, {config.num_classes} classes, batch {self.batch}, "
            f"{self.steps_of(net)} SGD steps (lr {opt.lr}, momentum {opt.momentum}, weight decay {opt.weight_decay})"
        )
