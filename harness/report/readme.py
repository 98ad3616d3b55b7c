"""README's results table: the compact summary between two markers, refreshed in place.

One row per device and framework, from each device's headline workloads (the first, in the
report's order, with records on that device): the benchmark's for throughput and memory,
the training's for top-1. Every rank is within one device and one workload; the line under
the table names the workloads, and REPORT.md has every other one.
"""

from __future__ import annotations

from harness.report import accuracy as replicated
from harness.report import keras_cost
from harness.report.cells import Cells
from harness.report.entries import Entry
from harness.report.model import Table, Value, gib, pct
from harness.report.render import markdown_note, markdown_text, superscript, table_markdown
from harness.report.select import Selection

README_BEGIN = "<!-- alexbench:results:begin -->"
README_END = "<!-- alexbench:results:end -->"
HEADER = [
    "device", "framework", "mode (training / inference)", "training images/s [95% CI]", "rank",
    "inference images/s [95% CI]", "rank", "top-1 (%), mean ± sd over seeds", "top-1 rank (paired test)",
    "peak host memory (GiB)",
]  # fmt: skip


def summary_table(ctx: Cells) -> tuple[Table, list[str], list[str]]:
    """(the compact table README embeds, the sentences naming its workloads, the runs its
    figures come from): per device and framework, the mode of each headline figure, the
    compute-only images/s (training and inference) with CIs and float32 ranks, top-1 over
    seeds with its paired-test rank, and peak host memory."""
    rows, runs, shown = [], set(), set()
    used: dict[str, dict[str, list[str]]] = {"throughput": {}, "top-1": {}}  # what -> label -> devices
    for device in ctx.s.devices:
        bench_workload, bench = ctx.s.headline("throughput", device)
        train_workload, train = ctx.s.headline("train", device)
        for what, workload in (("throughput", bench_workload), ("top-1", train_workload)):
            if workload is not None:
                shown.add(workload)
                used[what].setdefault(workload.label(precision="float32"), []).append(device.upper())
        bench_ctx, train_ctx = Cells(bench, ctx.notes), Cells(train, ctx.notes)
        ranks = {m: bench.ranks(device, m) for m in ("train/compute_only", "inference/compute_only")}
        top1_ranks = replicated.ranks(train, device, "top1")
        for framework in ctx.s.frameworks:
            cells = [bench.cell("throughput", framework, device, m) for m in ranks]
            accuracy = train.cell("train", framework, device, "accuracy")
            group = replicated.replicates(train, framework, device)
            runs |= {e.run_id for c in (*cells, accuracy) for e in (c.entry or c.failure,) if e is not None}
            if group:
                known = [e.metrics["top1"] for e in group if e.metrics.get("top1") is not None]
                top1 = Value(replicated.spread(known, digits=2).split(" [")[0] + f" (n={len(group)})")
                rank = top1_ranks.get(framework)
                why = replicated.N_ONE if len(group) < 2 else replicated.TIE
                accuracy_rank = Value(rank) if rank else ctx.dash(why)
            else:
                top1 = accuracy_rank = train_ctx.figure(accuracy, "top1", pct)
            modes = [bench_ctx.label(c, "mode").text for c in cells]
            figures = [v for c, m in zip(cells, ranks) for v in (bench_ctx.rate_with_ci(c), ctx.rank(ranks[m], c))]
            rows.append([
                Value(device.upper()), Value(framework), Value(modes[0] if modes[0] == modes[1] else " / ".join(modes)),
                *figures, top1, accuracy_rank, bench_ctx.figure(cells[0], "peak_rss_bytes", gib),
            ])  # fmt: skip
    named = [
        f"{what} of " + "; ".join(f"{label} ({', '.join(devices)})" for label, devices in labels.items())
        for what, labels in used.items() if labels
    ]  # fmt: skip
    sentences = [f"Workloads: {', '.join(named)}." if named else ""]
    if any(v.workload not in shown for v in ctx.s.views):
        sentences.append("REPORT.md has the figures of every other workload in these results.")
    table = Table("Results", HEADER, rows, (3, 5, 7, 9), "summary")
    return table, [s for s in sentences if s], sorted(runs)


def markdown_cpu_table(entries: list[Entry], run_id: str | None = None) -> str:
    """The summary table README embeds, from records.load()'s DataFrame: per device (CPU,
    and GPU where there are GPU records) and framework, compute-only training and
    inference images/s with 95% CIs and ranks (ties within noise shown as ties), top-1,
    top-5 and peak host memory; where Keras ran beside its backend, the table "Keras over
    its backend" (harness.report.keras_cost); then the notes. Deterministic."""
    from impls.errors import ConfigError

    if not entries:
        raise ConfigError("no alexbench records to summarize; run `alexbench run` first")
    selection = Selection(entries, run_id)
    cells = Cells(selection)
    table, workloads, runs = summary_table(cells)
    lines = table_markdown(table, heading=None)
    lines.append(
        "Compute-only throughput at the recorded batch and input size, median [95% CI]; "
        f"from run(s) {', '.join(runs)}. "
        + "".join(f"{markdown_text(w)} " for w in workloads)
        + "Generated by `alexbench report`; the full report (latency, memory, energy, GPU vs CPU, parity, "
        "environment) is REPORT.md / report.html in the results folder."
    )
    keras = keras_cost.readme_table(cells)
    if keras is not None:
        lines += ["", f"**{keras.title}**", "", *table_markdown(keras, heading=None)]
        lines.append(
            "The same Keras network on JAX and on PyTorch against the native implementation of that backend, "
            "measured in one run; Keras / native is the ratio of the medians, its range from the two 95% CIs."
        )
    if cells.notes.texts:
        lines += ["", *[f"- {superscript([i])} {markdown_note(t)}" for i, t in enumerate(cells.notes.texts, 1)]]
    return "\n".join(lines).rstrip("\n") + "\n"


def replace_between_markers(text: str, content: str, path: str = "README.md") -> str:
    """`text` with what lies between the results markers replaced by `content`."""
    from impls.errors import ConfigError

    begins, ends = text.count(README_BEGIN), text.count(README_END)
    if begins == 0 or ends == 0:
        raise ConfigError(
            f"{path} has no results markers: put the lines {README_BEGIN} and {README_END} where the "
            "results table should go, then run again"
        )
    if begins > 1 or ends > 1:
        raise ConfigError(f"{path} has {begins} {README_BEGIN} and {ends} {README_END} markers; keep one pair")
    start, end = text.index(README_BEGIN) + len(README_BEGIN), text.index(README_END)
    if end < start:
        raise ConfigError(f"{path}: {README_END} comes before {README_BEGIN}; swap them")
    return text[:start] + "\n\n" + content.strip("\n") + "\n\n" + text[end:]
