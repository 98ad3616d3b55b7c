"""Generate the torchvision AlexNet / VGG-11 reference fixtures used by the test suite.

What
    Writes ``tests/fixtures/torchvision_<model>_seed0.npz`` (``--model alexnet``,
    the default, or ``--model vgg11``), a small record of what torchvision's own
    ``alexnet(weights=None)`` / ``vgg11(weights=None)`` computes after
    ``torch.manual_seed(0)``:

    * ``param_names`` / ``param_shapes`` / ``param_sums`` / ``param_abs_sums`` /
      ``param_heads``: for every ``state_dict`` entry (in order) its name, its
      shape (int64, padded with -1 to rank 4), the float64 sum, the float64 sum
      of absolute values, and the first 8 flattened values (float64).  A test
      can rebuild the same ``nn`` layers in the same order after
      ``torch.manual_seed(0)`` and check it regenerated identical weights.
      Sums are numpy's (pairwise) ``a.astype(np.float64).reshape(-1).sum()``;
      compute them the same way to compare with ``==``.  Heads are NaN-padded
      for tensors with fewer than 8 elements (none in AlexNet or VGG-11).
      The file holds these checksums, never the weights (VGG-11 has 133M).
    * Inputs ``x224`` (2, 224, 224, 3) and ``x_odd`` (2, 127, 191, 3): float32
      NHWC standard normal, drawn in that order from one
      ``np.random.default_rng(1234)`` (see ``make_inputs``).  The odd,
      non-square size makes the adaptive average pooling do real work (AlexNet's
      final map is 3x5 there, pooled to 6x6; VGG-11's is 3x5, pooled to 7x7).
      The raw inputs are ~1.8 MB of incompressible noise, so they are NOT
      stored; instead ``input_seed``, ``x224_shape``, ``x_odd_shape`` and
      ``x224_sha256`` / ``x_odd_sha256`` (hex digest of the C-contiguous
      float32 bytes) let a test regenerate them and prove they are identical::

          rng = np.random.default_rng(int(f["input_seed"]))
          x224 = rng.standard_normal(tuple(f["x224_shape"]), dtype=np.float32)
          x_odd = rng.standard_normal(tuple(f["x_odd_shape"]), dtype=np.float32)
          assert hashlib.sha256(x224.tobytes()).hexdigest() == str(f["x224_sha256"])
    * ``logits224_f32`` / ``logits_odd_f32``: eval-mode float32 logits.
    * ``logits224_f64`` / ``logits_odd_f64``: the same in float64
      (``m.double()``, inputs cast to double).
    * ``versions``: e.g. ``["torch=2.14.1", "torchvision=0.29.1", ...]``.

    Everything is computed under ``torch.no_grad()`` with
    ``torch.use_deterministic_algorithms(True)`` and one thread.  The file holds
    no object arrays, so it loads with ``np.load(..., allow_pickle=False)``.

How to run
    torchvision must not go into the project venv, so use a throwaway one::

        python3 -m venv /tmp/tvenv
        /tmp/tvenv/bin/pip install torch==2.14.1 torchvision==0.29.1 numpy
        /tmp/tvenv/bin/python tools/make_torchvision_fixture.py               # alexnet
        /tmp/tvenv/bin/python tools/make_torchvision_fixture.py --model vgg11

    (run from the repository root, or pass ``--out PATH``).

Why
    torchvision is deliberately not a dependency of this project: PyPI's
    torchvision pins a matching torch, which pulls a multi-GB CUDA build (and
    it does not import beside the project's CPU torch).  Committing these small
    fixtures lets the tests compare our AlexNet and VGG-11 implementations with
    torchvision's without torchvision being installed in CI.
"""

from __future__ import annotations

import argparse
import hashlib
import platform
from pathlib import Path

import numpy as np
import torch
import torchvision

SEED = 0
INPUT_SEED = 1234
N_HEAD = 8
MODELS = ("alexnet", "vgg11")
FIXTURES = Path(__file__).resolve().parent.parent / "tests" / "fixtures"


def default_out(model: str) -> Path:
    return FIXTURES / f"torchvision_{model}_seed0.npz"


X224_SHAPE = (2, 224, 224, 3)
X_ODD_SHAPE = (2, 127, 191, 3)


def make_inputs(seed: int = INPUT_SEED) -> tuple[np.ndarray, np.ndarray]:
    """The fixture's NHWC float32 inputs (x224 then x_odd, one generator)."""
    rng = np.random.default_rng(seed)
    x224 = rng.standard_normal(X224_SHAPE, dtype=np.float32)
    x_odd = rng.standard_normal(X_ODD_SHAPE, dtype=np.float32)
    return x224, x_odd


def _sha256(a: np.ndarray) -> str:
    return hashlib.sha256(np.ascontiguousarray(a).tobytes()).hexdigest()


def _logits(model: torch.nn.Module, x_nhwc: np.ndarray, dtype: torch.dtype) -> np.ndarray:
    x = torch.from_numpy(x_nhwc).permute(0, 3, 1, 2).contiguous().to(dtype)
    with torch.no_grad():
        return model(x).numpy()


def build_fixture(model: str = "alexnet") -> dict[str, np.ndarray]:
    torch.use_deterministic_algorithms(True)
    torch.set_num_threads(1)

    torch.manual_seed(SEED)
    m = getattr(torchvision.models, model)(weights=None)  # 1000 classes
    m.eval()

    names, shapes, sums, abs_sums, heads = [], [], [], [], []
    for name, t in m.state_dict().items():
        a = t.detach().cpu().numpy().astype(np.float64)
        flat = a.reshape(-1)
        names.append(name)
        shapes.append(list(a.shape) + [-1] * (4 - a.ndim))
        sums.append(flat.sum())
        abs_sums.append(np.abs(flat).sum())
        head = np.full(N_HEAD, np.nan)
        head[: min(N_HEAD, flat.size)] = flat[:N_HEAD]
        heads.append(head)

    x224, x_odd = make_inputs()

    out = {
        "param_names": np.array(names, dtype=np.str_),
        "param_shapes": np.array(shapes, dtype=np.int64),
        "param_sums": np.array(sums, dtype=np.float64),
        "param_abs_sums": np.array(abs_sums, dtype=np.float64),
        "param_heads": np.array(heads, dtype=np.float64),
        "input_seed": np.array(INPUT_SEED, dtype=np.int64),
        "x224_shape": np.array(X224_SHAPE, dtype=np.int64),
        "x_odd_shape": np.array(X_ODD_SHAPE, dtype=np.int64),
        "x224_sha256": np.array(_sha256(x224), dtype=np.str_),
        "x_odd_sha256": np.array(_sha256(x_odd), dtype=np.str_),
        "logits224_f32": _logits(m, x224, torch.float32),
        "logits_odd_f32": _logits(m, x_odd, torch.float32),
    }
    m.double()
    out["logits224_f64"] = _logits(m, x224, torch.float64)
    out["logits_odd_f64"] = _logits(m, x_odd, torch.float64)
    out["versions"] = np.array(
        [
            f"torch={torch.__version__.split('+')[0]}",
            f"torchvision={torchvision.__version__.split('+')[0]}",
            f"numpy={np.__version__}",
            f"python={platform.python_version()}",
        ],
        dtype=np.str_,
    )
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", choices=MODELS, default="alexnet")
    ap.add_argument("--out", type=Path, default=None, help="default: tests/fixtures/torchvision_<model>_seed0.npz")
    args = ap.parse_args()
    args.out = args.out or default_out(args.model)
    data = build_fixture(args.model)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(args.out, **data)
    with np.load(args.out, allow_pickle=False) as f:  # sanity: no object arrays
        assert set(f.files) == set(data)
    print(f"wrote {args.out} ({args.out.stat().st_size} bytes)")
    for k, v in data.items():
        print(f"  {k}: {v.dtype} {v.shape}")


if __name__ == "__main__":
    main()
