"""The "Keras over its backend" section: what Keras costs over the framework it runs on.

For each Keras implementation on a backend with a native implementation here (keras-jax
over jax, keras-torch over torch: the name says which), compute-only images/s of Keras and
of the native framework, training and inference, and their ratio. A ratio is shown only
where both come from the same run (interleaved: the machine's drift hits both alike), the
same workload and the same batch: the native figure is the one of the Keras record's run where
that run has it, even if a later run measured the native framework again. Its range is the
conservative one of the two 95% confidence intervals of the medians: [Keras low / native high, Keras high / native low].
"""

from __future__ import annotations

from harness.report.cells import Cells
from harness.report.model import Section, Table, Value, workload_text
from harness.report.select import Cell

PREFIX = "keras-"
MEASUREMENTS = {"train/compute_only": "training", "inference/compute_only": "inference"}


def pairs(frameworks: list[str]) -> list[tuple[str, str]]:
    """(Keras implementation, its backend's native one), both among `frameworks`."""
    return [(f, f[len(PREFIX) :]) for f in frameworks if f.startswith(PREFIX) and f[len(PREFIX) :] in frameworks]


def rows_of(ctx: Cells, device: str) -> list[list[Value]]:
    rows = []
    for keras, native in pairs(ctx.s.frameworks):
        for measurement, phase in MEASUREMENTS.items():
            k = ctx.s.cell("throughput", keras, device, measurement)
            n = ctx.s.cell("throughput", native, device, measurement)
            if k.entry is not None and n.entry is not None and n.entry.run_id != k.entry.run_id:
                n = ctx.s.in_run(n, k.entry.run_id) or n  # the native figure measured beside Keras's
            rows.append([
                Value(device.upper()), Value(f"{keras} / {native}"), Value(phase),
                Value(f"{ctx.label(k, 'mode').text} / {ctx.label(n, 'mode').text}"),
                ctx.rate_with_ci(k), ctx.rate_with_ci(n), *ratio(ctx, k, n), ctx.label(k, "run"),
            ])  # fmt: skip
    return rows


def table_of(rows: list[list[Value]]) -> Table:
    return Table(
        "Keras over its backend, compute only (images/s, median [95% CI])",
        ["device", "Keras / native", "phase", "mode (Keras / native)", "Keras", "native", "Keras / native",
         "range (from the CIs)", "run"],
        rows,
        (4, 5, 6, 7),
        "keras-over-backend",
    )  # fmt: skip


def readme_table(ctx: Cells) -> Table | None:
    """The table README shows under its results: each device's headline throughput workload
    (as README's results table), None where no Keras runs beside its backend."""
    rows = []
    for device in ctx.s.devices:
        _, bench = ctx.s.headline("throughput", device)
        rows += rows_of(Cells(bench, ctx.notes), device)
    return table_of(rows) if rows else None


def section(ctx: Cells) -> Section:
    rows = [row for device in ctx.s.devices for row in rows_of(ctx, device)]
    table = table_of(rows)
    if not rows:
        return Section("Keras over its backend", text=[
            "No Keras implementation on JAX or PyTorch beside its native framework in these records: "
            "`alexbench run --frameworks keras-jax,jax,keras-torch,torch` measures them side by side."
        ])  # fmt: skip
    return Section(
        "Keras over its backend",
        text=[
            "The same Keras network (one lowering, impls/keras_network.py) on JAX and on PyTorch against the native "
            "implementation of that backend: same workload, batch and settings, measured interleaved in one run. "
            "Keras / native is the ratio of the medians (below 1: Keras is slower); its range comes from the two "
            "95% CIs (Keras low / native high to Keras high / native low)."
        ],
        tables=[table],
    )


def ratio(ctx: Cells, keras: Cell, native: Cell) -> list[Value]:
    """[Keras / native, its range], or dashes saying why they are not comparable."""
    missing = [c for c in (keras, native) if c.metric("images_per_s") is None]
    if missing:
        why = missing[0].why() if missing[0].entry is None else f"{missing[0].framework}: no images/s"
        return [ctx.dash(why), ctx.dash(why)]
    a, b = keras.entry, native.entry
    if a.run_id != b.run_id:
        why = f"{keras.framework} (run {a.run_id}) and {native.framework} (run {b.run_id}): not one interleaved run"
        return [ctx.dash(why), ctx.dash(why)]
    if (a.workload, a.batch_size) != (b.workload, b.batch_size):
        why = f"different workloads: {keras.framework} {workload_text(a)}, {native.framework} {workload_text(b)}"
        return [ctx.dash(why), ctx.dash(why)]
    value = Value(f"{float(keras.metric('images_per_s')) / float(native.metric('images_per_s')):.2f}")
    bounds = [c.metric(f"images_per_s_ci95_{s}") for c in (keras, native) for s in ("low", "high")]
    if None in bounds or float(bounds[2]) <= 0:
        return [value, ctx.dash("no 95% CI (too few steps): no range")]
    low, high = float(bounds[0]) / float(bounds[3]), float(bounds[1]) / float(bounds[2])
    return [value, Value(f"[{low:.2f}, {high:.2f}]")]
