"""`--modes best`: pick each framework's fastest execution mode on this machine, by a short
interleaved trial, within a precision class, never across.

Precision classes (impls.modes): "float32" holds the modes that compute in the config's
dtype (they pass parity tier 3), "bfloat16" the reduced-precision ones (tier 4 and the
bf16 accuracy check). A ranking never mixes the two: a bf16 mode is compared with bf16
modes only. For each framework, device, class and phase (train / inference) the winner is
the mode with the highest median compute-only images/s in the trial; the trial's figures
for every candidate go into a `selection` record, so the choice can be audited.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from harness import stats
from harness.results import Record
from impls.modes import DEFAULT_MODE, resolve

PHASES = ("train", "inference")
CLASSES = ("float32", "bfloat16")


def precision_class(framework: str, mode: str) -> str:
    return "bfloat16" if resolve(framework, mode).reduced_precision else "float32"


@dataclass
class Choice:
    """The trial of one framework x device x precision class, and its winners."""

    framework: str
    device: str
    klass: str
    rates: dict[tuple[str, str], dict] = field(default_factory=dict)  # (phase, mode) -> throughput summary
    seconds: dict[tuple[str, str], list[float]] = field(default_factory=dict)
    unavailable: dict[str, str] = field(default_factory=dict)  # mode -> why it could not run here
    winners: dict[str, str] = field(default_factory=dict)  # phase -> mode

    def margin(self, phase: str) -> float | None:
        """The winner's median images/s over the default mode's (None: default not in the trial)."""
        default = DEFAULT_MODE.get(self.framework)
        won = self.rates.get((phase, self.winners.get(phase, "")), {}).get("median")
        base = self.rates.get((phase, default), {}).get("median")
        return won / base if won and base else None


def choose(trial: dict[tuple[str, str, str, str], list[float]], batch: dict[tuple[str, str, str], int],
           unavailable: dict[tuple[str, str, str], str] | None = None) -> list[Choice]:  # fmt: skip
    """Winners from trial step times: trial[(framework, device, mode, phase)] -> seconds of
    each compute-only step; batch[(framework, device, mode)] -> its batch size. Every
    (framework, device, class) with at least one measured candidate gets a Choice."""
    choices: dict[tuple[str, str, str], Choice] = {}
    for (framework, device, mode), why in (unavailable or {}).items():
        key = (framework, device, precision_class(framework, mode))
        choices.setdefault(key, Choice(*key)).unavailable[mode] = why
    for (framework, device, mode, phase), seconds in sorted(trial.items()):
        if not seconds:
            continue
        key = (framework, device, precision_class(framework, mode))
        choice = choices.setdefault(key, Choice(*key))
        choice.rates[(phase, mode)] = stats.throughput(seconds, batch[(framework, device, mode)])
        choice.seconds[(phase, mode)] = list(seconds)
    for choice in choices.values():
        for phase in PHASES:
            measured = {m: r["median"] for (p, m), r in choice.rates.items() if p == phase}
            if measured:  # a tie goes to the default mode
                default = DEFAULT_MODE.get(choice.framework)
                choice.winners[phase] = max(measured, key=lambda m: (measured[m], m == default))
    return [c for c in choices.values() if c.winners]


def selection_record(choice: Choice, run_id: str, trial: dict, started: str, workload: dict | None = None) -> Record:
    """The `selection` record: every candidate's trial figures, the winners, the margins;
    `workload`: the measured network's fields (Record.workload_fields), so each model's
    choice is a record of its own."""
    metrics: dict[str, float | None] = {}
    for (phase, mode), rate in choice.rates.items():
        metrics[f"{phase}/{mode}/images_per_s"] = rate.get("median")
        metrics[f"{phase}/{mode}/images_per_s_ci95_low"] = rate.get("ci95_low")
        metrics[f"{phase}/{mode}/images_per_s_ci95_high"] = rate.get("ci95_high")
    for phase in PHASES:
        metrics[f"{phase}/margin_over_default"] = choice.margin(phase)
    candidates = sorted({m for _, m in choice.rates} | set(choice.unavailable))
    settings = {
        "class": choice.klass,
        "winners": dict(choice.winners),
        "default": DEFAULT_MODE.get(choice.framework),
        "candidates": candidates,
        "unavailable": dict(choice.unavailable),
        "trial": dict(trial),
        "batch_size": trial.get("batch_size"),  # in the key, and what --resume looks the choice up by
    }
    notes = [
        f"--modes best: the fastest {choice.klass} mode per phase in a short interleaved trial "
        f"({trial.get('rounds')} round(s) of {trial.get('train_steps')} train + {trial.get('inference_steps')} "
        "inference compute-only steps per candidate); the winners were then measured in the usual rounds",
        f"cost of the choice in this run: {trial.get('setup_seconds')} s building and warming up every candidate "
        f"of every framework, {trial.get('trial_seconds')} s of trial steps",
    ]
    notes += [f"{mode} could not run here: {why}" for mode, why in choice.unavailable.items()]
    samples = [{"phase": p, "mode": m, "seconds": s} for (p, m), s in sorted(choice.seconds.items())]
    return Record(
        "selection", choice.framework, choice.device, choice.klass, run_id, metrics=metrics, samples=samples,
        settings=settings, notes=notes, started=started, **(workload or {}),
    )  # fmt: skip


def won_phases(choices: list[Choice]) -> dict[tuple[str, str, str], dict[str, str]]:
    """(framework, device, mode) -> {phase: class} for every phase the mode won."""
    won: dict[tuple[str, str, str], dict[str, str]] = {}
    for choice in choices:
        for phase, mode in choice.winners.items():
            won.setdefault((choice.framework, choice.device, mode), {})[phase] = choice.klass
    return won
