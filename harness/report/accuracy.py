"""Accuracy over seeds: replicates, their spread, paired comparisons, and the ranking rule.

float32 training is chaotic after the first ReLU flip, so one run per framework measures the
seed's luck as much as the framework. A framework's accuracy is therefore the replicates of
its latest training experiment (the records of one run with the same settings but the seed),
summarized as mean, standard deviation and the 95% interval of the mean; frameworks are
compared per seed (replicate k of each started from the same weights and saw the same
batches), with a paired t-test. The rule: a framework is ranked below the leader only when
the paired test says the difference is real (p < 0.05); otherwise it ties the leader "within
seed noise". With one seed nothing is ranked. Time to accuracy follows the same rule.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from harness import stats
from harness.report.cells import Cells
from harness.report.entries import Entry
from harness.report.model import DASH, Section, Table, Value
from harness.report.select import Selection

N_ONE = "one seed per framework: the spread over seeds is unknown and nothing is ranked (alexbench run --seeds N)"
TIE = "tie within seed noise"


def experiment(entry: Entry) -> str:
    """What makes two train records replicates of one experiment: the settings but the seed."""
    return json.dumps({k: v for k, v in sorted(entry.settings.items()) if k != "seed"}, sort_keys=True)


def seed_of(entry: Entry):
    return entry.seed if entry.seed is not None else entry.settings.get("seed")


def replicates(s: Selection, framework: str, device: str) -> list[Entry]:
    """The replicates (one per seed, the latest) of the experiment of the train record the
    report shows for framework x device: same run, same settings but the seed."""
    shown = s.cell("train", framework, device, "accuracy").entry
    if shown is None:
        return []
    by_seed: dict = {}
    for e in s.entries:  # oldest first: a later record of a seed replaces an earlier one
        same_run = e.kind == "train" and (e.framework, e.device, e.run_id) == (framework, device, shown.run_id)
        if same_run and experiment(e) == experiment(shown):
            by_seed[seed_of(e)] = e
    return [by_seed[k] for k in sorted(by_seed, key=lambda k: (k is None, str(k)))]


@dataclass
class Comparison:
    """a against b on one device, paired by seed: the mean difference of `metric`."""

    a: str
    b: str
    metric: str
    comparable: bool
    pairs: int
    test: dict

    @property
    def verdict(self) -> str:
        if not self.comparable:
            return "not comparable: different training settings"
        if self.test["verdict"] == "n < 2":
            return f"n = {self.pairs}: cannot rank"
        if self.test["verdict"] == "tie":
            return TIE
        return f"{self.a if self.test['verdict'] == 'a' else self.b} better"


def compare(s: Selection, device: str, a: str, b: str, metric: str) -> Comparison:
    """Paired comparison of `metric` between frameworks a and b (their common seeds)."""
    ra, rb = replicates(s, a, device), replicates(s, b, device)
    comparable = bool(ra and rb) and experiment(ra[0]) == experiment(rb[0])
    by_a = {seed_of(e): e.metrics.get(metric) for e in ra}
    by_b = {seed_of(e): e.metrics.get(metric) for e in rb}
    seeds = [k for k in by_a if k in by_b and by_a[k] is not None and by_b[k] is not None]
    test = stats.paired_test([by_a[k] for k in seeds], [by_b[k] for k in seeds]) if seeds else {"verdict": "n < 2"}
    return Comparison(a, b, metric, comparable, len(seeds), test)


def ranks(s: Selection, device: str, metric: str, higher_is_better: bool = True) -> dict[str, str]:
    """framework -> rank text: sorted by the mean of `metric` over seeds; the leader and every
    framework the paired test cannot tell from it share the leader's rank ("tie within seed
    noise"). Empty when any framework has fewer than two seeds (nothing can be ranked)."""
    means = {}
    for framework in s.frameworks:
        values = [e.metrics.get(metric) for e in replicates(s, framework, device)]
        if values and None not in values:
            means[framework] = sum(values) / len(values)
    if len(means) < 2 or any(len(replicates(s, f, device)) < 2 for f in means):
        return {}
    remaining = sorted(means, key=lambda f: -means[f] if higher_is_better else means[f])
    out, position = {}, 0
    while remaining:
        leader, rest = remaining[0], remaining[1:]
        group = [leader] + [f for f in rest if compare(s, device, leader, f, metric).verdict == TIE]
        remaining = [f for f in rest if f not in group]
        for member in group:
            out[member] = f"{position + 1}, {TIE}" if len(group) > 1 else str(position + 1)
        position += len(group)
    return out


def spread(values: list[float], scale: float = 100.0, digits: int = 2) -> str:
    """'mean ± sd [low, high]' (n >= 2) or the single value."""
    summary = stats.mean_ci(values)
    if summary["n"] == 1:
        return f"{summary['mean'] * scale:.{digits}f}"
    return (
        f"{summary['mean'] * scale:.{digits}f} ± {summary['sd'] * scale:.{digits}f} "
        f"[{summary['ci95_low'] * scale:.{digits}f}, {summary['ci95_high'] * scale:.{digits}f}]"
    )


def summary_table(ctx: Cells) -> Table:
    s = ctx.s
    rows = []
    for device, framework in ctx.pairs():
        cell = s.cell("train", framework, device, "accuracy")
        group = replicates(s, framework, device)
        if not group:
            rows.append([Value(device.upper()), Value(framework), *[ctx.dash(cell.why())] * 9, ctx.label(cell, "run")])
            continue
        ranked = ranks(s, device, "top1")
        first = group[0]
        values = {m: [e.metrics.get(m) for e in group] for m in ("top1", "top5", "test_loss", "seconds")}
        cells = []
        for metric, scale, digits in (("top1", 100, 2), ("top5", 100, 2), ("test_loss", 1, 4), ("seconds", 1, 1)):
            known = [v for v in values[metric] if v is not None]
            cells.append(Value(spread(known, scale, digits)) if known else ctx.dash(f"no {metric} in the records"))
        rank = Value(ranked[framework]) if framework in ranked else ctx.dash(N_ONE if len(group) < 2 else TIE)
        rows.append([
            Value(device.upper()), Value(framework), Value(first.dataset or DASH), ctx.label(cell, "input"),
            Value(str(first.settings.get("epochs", DASH))), Value(str(len(group))), *cells, rank,
            ctx.label(cell, "run"),
        ])  # fmt: skip
    return Table(
        "Top-1 and top-5 on the test split (%), over seeds: mean ± standard deviation [95% interval of the mean]",
        ["device", "framework", "dataset", "input", "epochs", "seeds", "top-1", "top-5", "test loss",
         "train time (s)", "rank (top-1, paired test)", "run"],
        rows,
        (5, 6, 7, 8, 9),
        "accuracy",
    )  # fmt: skip


def pairs_table(ctx: Cells) -> Table:
    """Every pair of frameworks on a device: the top-1 difference per seed, tested."""
    s, rows = ctx.s, []
    for device in s.devices:
        frameworks = [f for f in s.frameworks if replicates(s, f, device)]
        for i, a in enumerate(frameworks):
            for b in frameworks[i + 1 :]:
                c = compare(s, device, a, b, "top1")
                t = c.test
                diff = DASH if t.get("mean") is None else f"{t['mean'] * 100:+.2f}"
                ci = DASH if t.get("ci95_low") is None else f"[{t['ci95_low'] * 100:+.2f}, {t['ci95_high'] * 100:+.2f}]"
                p = DASH if t.get("p") is None else f"{t['p']:.3f}"
                rows.append([Value(device.upper()), Value(f"{a} vs {b}"), Value(str(c.pairs)), Value(diff), Value(ci),
                             Value(p), Value(c.verdict)])  # fmt: skip
    return Table(
        "Top-1, paired by seed (difference in points, a - b; paired t-test)",
        ["device", "a vs b", "seeds", "mean difference", "95% interval", "p", "verdict"],
        rows,
        (2, 3, 4, 5),
        "accuracy-pairs",
    )


def time_to_accuracy_table(ctx: Cells) -> Table:
    s, rows = ctx.s, []
    for device in s.devices:
        names = sorted({m for f in s.frameworks for e in replicates(s, f, device) for m in e.metrics
                        if m.startswith("seconds_to_top1_")}, key=lambda m: int(m.rsplit("_", 1)[1]))  # fmt: skip
        for metric in names:
            ranked = ranks(s, device, metric, higher_is_better=False)
            for framework in s.frameworks:
                group = replicates(s, framework, device)
                if not group:
                    continue
                seconds = [e.metrics.get(metric) for e in group]
                images = [e.metrics.get(metric.replace("seconds_to", "images_to")) for e in group]
                reached = [v for v in seconds if v is not None]
                rank = ranked.get(framework)
                rows.append([
                    Value(device.upper()), Value(framework), Value(f"{metric.rsplit('_', 1)[1]}%"),
                    Value(f"{len(reached)} of {len(group)}"),
                    Value(spread(reached, 1, 1)) if reached else ctx.dash("top-1 never reached the threshold"),
                    Value(spread([float(v) for v in images if v is not None], 1, 0)) if reached else Value(DASH),
                    Value(rank) if rank else ctx.dash(N_ONE if len(group) < 2 else "ranked only where every seed "
                                                      "of every framework reached the threshold"),
                ])  # fmt: skip
    return Table(
        "Time to accuracy: training seconds and images until test top-1 first reached the threshold",
        ["device", "framework", "top-1", "reached", "seconds, mean ± sd [95% interval]", "images", "rank"],
        rows,
        (3, 4, 5),
        "time-to-accuracy",
    )


def per_epoch_table(ctx: Cells) -> Table:
    """Per epoch, mean over the seeds."""
    s, rows = ctx.s, []
    for device, framework in ctx.pairs():
        group = replicates(s, framework, device)
        epochs = sorted({r["epoch"] for e in group for r in e.samples if isinstance(r, dict) and "epoch" in r})
        for epoch in epochs:
            rows_of = [r for e in group for r in e.samples if isinstance(r, dict) and r.get("epoch") == epoch]
            values = {k: [r[k] for r in rows_of if r.get(k) is not None] for k in
                      ("train_loss", "test_loss", "test_top1", "test_top5", "seconds")}  # fmt: skip
            rows.append([
                Value(device.upper()), Value(framework), Value(str(epoch)), Value(str(len(rows_of))),
                Value(spread(values["train_loss"], 1, 4)), Value(spread(values["test_loss"], 1, 4)),
                Value(spread(values["test_top1"])), Value(spread(values["test_top5"])),
                Value(spread(values["seconds"], 1, 1)),
            ])  # fmt: skip
    return Table(
        "Accuracy per epoch (over seeds)",
        ["device", "framework", "epoch", "seeds", "train loss", "test loss", "top-1 (%)", "top-5 (%)", "seconds"],
        rows,
        (3, 4, 5, 6, 7, 8),
        "accuracy-per-epoch",
    )


def section(ctx: Cells) -> Section:
    from harness.report import plots

    return Section(
        "Accuracy",
        text=[
            "Same data, augmentation and hyperparameters for every framework; replicate k of every framework starts "
            "from the same weights (seed k) and sees the same batches. float32 training is chaotic after the first "
            "ReLU flip, so each figure is a mean over seeds with its spread, and frameworks are ranked only when a "
            "paired t-test over the seeds says the difference is real (p < 0.05); otherwise they tie within seed "
            "noise. With one seed nothing is ranked.",
        ],
        tables=[summary_table(ctx), pairs_table(ctx), time_to_accuracy_table(ctx), per_epoch_table(ctx)],
        plots=plots.accuracy(ctx),
    )
