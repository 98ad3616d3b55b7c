"""Checkpoints of a training, so an interrupted one continues from its step, not from the
start of its epoch: the weights and the optimizer's momentum (canonical names and layouts),
the dropout generator's state, and the progress — the input pipeline's position (epoch,
batch), the images seen, the seconds trained, the convergence curve and the epochs so far.

One .npz file, written atomically (impls.atomic), so a crash while writing leaves the
previous checkpoint whole. A checkpoint made with other settings is refused.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np

from impls import TrainState
from impls.atomic import write_atomic
from impls.errors import DataError

WEIGHT, MOMENTUM, RNG, PROGRESS = "weight:", "momentum:", "rng", "progress"


def save(path: str | os.PathLike, weights: dict, state: TrainState, progress: dict) -> Path:
    arrays = {f"{WEIGHT}{k}": np.asarray(v) for k, v in weights.items()}
    arrays.update({f"{MOMENTUM}{k}": np.asarray(v) for k, v in state.momentum.items()})
    arrays[RNG] = np.asarray(state.rng)
    arrays[PROGRESS] = np.frombuffer(json.dumps(progress, sort_keys=True).encode(), dtype=np.uint8)
    return write_atomic(path, lambda f: np.savez(f, **arrays))


def load(path: str | os.PathLike, settings: dict) -> tuple[dict, TrainState, dict] | None:
    """(weights, state, progress) of the checkpoint at `path`, None if there is none; a
    checkpoint of another training (other settings) is an error naming the difference."""
    path = Path(path)
    if not path.is_file():
        return None
    try:
        with np.load(path, allow_pickle=False) as f:
            weights = {k[len(WEIGHT) :]: f[k] for k in f.files if k.startswith(WEIGHT)}
            momentum = {k[len(MOMENTUM) :]: f[k] for k in f.files if k.startswith(MOMENTUM)}
            rng = f[RNG]
            progress = json.loads(bytes(f[PROGRESS]).decode())
    except (OSError, ValueError, KeyError) as error:
        raise DataError(f"cannot read the checkpoint {str(path)!r} ({error}): delete it to start over") from error
    if progress.get("settings") != settings:
        differ = sorted(k for k in set(settings) | set(progress.get("settings", {}))
                        if settings.get(k) != progress.get("settings", {}).get(k))  # fmt: skip
        raise DataError(
            f"the checkpoint {str(path)!r} is of a training with other settings ({', '.join(differ)}): "
            "delete it, or resume with the settings it was made with"
        )
    return weights, TrainState(momentum, rng), progress
