"""Generate the torchvision AlexNet / VGG-11 / ResNet-18 reference fixtures used by the test suite.

What
    Writes ``tests/fixtures/torchvision_<model>_seed0.npz`` (``--model alexnet``,
    the default, ``--model vgg11`` or ``--model resnet18``), a small record of what
    torchvision's own ``alexnet(weights=None)`` / ``vgg11(weights=None)`` /
    ``resnet18(weights=None)`` computes after ``torch.manual_seed(0)``:

    * ``param_names`` / ``param_shapes`` / ``param_sums`` / ``param_abs_sums`` /
      ``param_heads``: for every ``state_dict`` entry (in order) its name, its
      shape (int64, padded with -1 to rank 4), the float64 sum, the float64 sum
      of absolute values, and the first 8 flattened values (float64).  A test
      can rebuild the same ``nn`` layers in the same order after
      ``torch.manual_seed(0)`` and check it regenerated identical weights.
      Sums are numpy's (pairwise) ``a.astype(np.float64).reshape(-1).sum()``;
      compute them the same way to compare with ``==``.  Heads are NaN-padded
      for tensors with fewer than 8 elements (none in AlexNet or VGG-11; in
      ResNet-18 the 0-d int64 ``num_batches_tracked`` buffers, recorded as
      float64 like the rest: shape all -1, sums 0.0, head ``[0, nan, ...]``).
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

    ResNet-18 (``--model resnet18``) has BatchNorm, whose seed-0 state (weight 1,
    bias 0, running mean 0, running var 1) would make eval mode nearly an
    identity; so, after the checksums above (which are of the initial
    state_dict), every ``nn.BatchNorm2d`` gets a non-trivial state and all the
    logits are computed with it:

    * ``bn_names`` / ``bn_sizes`` / ``bn_values``: the state_dict keys of every
      BatchNorm float tensor (weight, bias, running_mean, running_var; in
      state_dict order), their element counts, and their values as the float32
      model holds them, concatenated (float32).  They were drawn from one
      ``np.random.default_rng(2026)``, for each BatchNorm2d in
      ``named_modules()`` order: weight ``uniform(0.5, 1.5, C)``, bias
      ``uniform(-0.5, 0.5, C)``, running_mean ``uniform(-0.5, 0.5, C)``,
      running_var ``uniform(0.5, 2.0, C)``; a test sets them from the file.
      ``bn_batches_tracked``: every ``num_batches_tracked``, set to 3 (int64).
    * ``labels``: ``[3, 917]`` (int64), the labels of both batches.
    * ``logits*_f32`` / ``logits*_f64``: eval mode, as above, with that state.
    * ``train_logits224_f32`` / ``train_logits224_f64``: the train-mode forward
      at 224 (BatchNorm normalizing with the batch's statistics), under
      ``torch.no_grad()``; the buffers it updated are put back afterwards.
    * ``train_loss224_f64``: float64, train mode, at 224 with ``labels``: the
      mean ``torch.nn.functional.cross_entropy``.  Its gradients, one row per
      parameter in ``named_parameters()`` order: ``grad_names``, ``grad_l2``
      (L2 norm), ``grad_abs_sums``, ``grad_heads`` (first 8 flattened values,
      NaN-padded) and ``grad_proj``, the dot product of the flattened float64
      gradient with ``np.random.default_rng([4321, i]).standard_normal(numel)``,
      ``i`` the parameter's index in ``named_parameters()`` order.
    * ``after_names`` / ``after_sizes`` / ``after_values`` (float64): every
      running_mean / running_var (state_dict order) after that one train-mode
      forward, which updated them (momentum 0.1, unbiased batch variance);
      ``after_batches_tracked``: every ``num_batches_tracked`` then (4).

    Everything is computed with ``torch.use_deterministic_algorithms(True)`` and
    one thread, the logits under ``torch.no_grad()``.  The file holds no object
    arrays, so it loads with ``np.load(..., allow_pickle=False)``.

How to run
    torchvision must not go into the project venv, so use a throwaway one::

        python3 -m venv /tmp/tvenv
        /tmp/tvenv/bin/pip install torch==2.14.1 torchvision==0.29.1 numpy
        /tmp/tvenv/bin/python tools/make_torchvision_fixture.py               # alexnet
        /tmp/tvenv/bin/python tools/make_torchvision_fixture.py --model vgg11
        /tmp/tvenv/bin/python tools/make_torchvision_fixture.py --model resnet18

    (run from the repository root, or pass ``--out PATH``).

Why
    torchvision is deliberately not a dependency of this project: PyPI's
    torchvision pins a matching torch, which pulls a multi-GB CUDA build (and
    it does not import beside the project's CPU torch).  Committing these small
    fixtures lets the tests compare our AlexNet, VGG-11 and ResNet-18
    implementations with torchvision's without torchvision being installed in CI.
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
MODELS = ("alexnet", "vgg11", "resnet18")
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


BN_SEED = 2026
BN_BATCHES_TRACKED = 3
LABELS = (3, 917)
PROJ_SEED = 4321


def _buffers_kept(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {n: b.detach().clone() for n, b in model.named_buffers()}


def _buffers_restore(model: torch.nn.Module, kept: dict[str, torch.Tensor]) -> None:
    with torch.no_grad():
        for n, b in model.named_buffers():
            b.copy_(kept[n])


def _train_logits(model: torch.nn.Module, x_nhwc: np.ndarray, dtype: torch.dtype) -> np.ndarray:
    """The train-mode forward (BatchNorm with the batch's statistics), buffers put back."""
    kept = _buffers_kept(model)
    model.train()
    out = _logits(model, x_nhwc, dtype)
    model.eval()
    _buffers_restore(model, kept)
    return out


def _set_batch_norm(model: torch.nn.Module) -> None:
    """The non-trivial BatchNorm state (see the module docstring)."""
    rng = np.random.default_rng(BN_SEED)
    with torch.no_grad():
        for _, module in model.named_modules():
            if isinstance(module, torch.nn.BatchNorm2d):
                c = module.num_features
                module.weight.copy_(torch.from_numpy(rng.uniform(0.5, 1.5, c)))
                module.bias.copy_(torch.from_numpy(rng.uniform(-0.5, 0.5, c)))
                module.running_mean.copy_(torch.from_numpy(rng.uniform(-0.5, 0.5, c)))
                module.running_var.copy_(torch.from_numpy(rng.uniform(0.5, 2.0, c)))
                module.num_batches_tracked.fill_(BN_BATCHES_TRACKED)


def _batch_norm_keys(model: torch.nn.Module, suffixes: tuple[str, ...]) -> list[str]:
    """state_dict keys (in order) of the BatchNorm tensors whose names end in `suffixes`."""
    norms = {name for name, m in model.named_modules() if isinstance(m, torch.nn.BatchNorm2d)}
    return [k for k in model.state_dict() if k.rsplit(".", 1)[0] in norms and k.rsplit(".", 1)[1] in suffixes]


def _batches_tracked(model: torch.nn.Module) -> int:
    counts = {int(t) for k, t in model.state_dict().items() if k.endswith("num_batches_tracked")}
    assert len(counts) == 1, counts
    return counts.pop()


def _grad_fields(model: torch.nn.Module, x_nhwc: np.ndarray) -> dict[str, np.ndarray]:
    """float64, train mode: the loss at `x_nhwc` with LABELS, the gradients' checksums and
    the running statistics that forward left (it updates them: they are not put back)."""
    x = torch.from_numpy(x_nhwc).permute(0, 3, 1, 2).contiguous().to(torch.float64)
    y = torch.tensor(LABELS, dtype=torch.int64)
    model.train()
    model.zero_grad(set_to_none=True)
    loss = torch.nn.functional.cross_entropy(model(x), y)
    loss.backward()
    model.eval()
    names, l2, abs_sums, heads, proj = [], [], [], [], []
    for i, (name, p) in enumerate(model.named_parameters()):
        g = p.grad.detach().numpy().astype(np.float64).reshape(-1)
        names.append(name)
        l2.append(np.linalg.norm(g))
        abs_sums.append(np.abs(g).sum())
        head = np.full(N_HEAD, np.nan)
        head[: min(N_HEAD, g.size)] = g[:N_HEAD]
        heads.append(head)
        proj.append(np.dot(g, np.random.default_rng([PROJ_SEED, i]).standard_normal(g.size)))
    state = model.state_dict()
    after = _batch_norm_keys(model, ("running_mean", "running_var"))
    return {
        "train_loss224_f64": np.array(loss.item(), dtype=np.float64),
        "grad_names": np.array(names, dtype=np.str_),
        "grad_l2": np.array(l2, dtype=np.float64),
        "grad_abs_sums": np.array(abs_sums, dtype=np.float64),
        "grad_heads": np.array(heads, dtype=np.float64),
        "grad_proj": np.array(proj, dtype=np.float64),
        "after_names": np.array(after, dtype=np.str_),
        "after_sizes": np.array([state[k].numel() for k in after], dtype=np.int64),
        "after_values": np.concatenate([state[k].numpy().astype(np.float64).reshape(-1) for k in after]),
        "after_batches_tracked": np.array(_batches_tracked(model), dtype=np.int64),
    }


def _resnet_fields(m: torch.nn.Module, x224: np.ndarray, x_odd: np.ndarray) -> dict[str, np.ndarray]:
    """ResNet-18's fields after the checksums: the BatchNorm state, logits, train mode."""
    _set_batch_norm(m)
    state = m.state_dict()
    bn = _batch_norm_keys(m, ("weight", "bias", "running_mean", "running_var"))
    out = {
        "bn_names": np.array(bn, dtype=np.str_),
        "bn_sizes": np.array([state[k].numel() for k in bn], dtype=np.int64),
        "bn_values": np.concatenate([state[k].numpy().astype(np.float32).reshape(-1) for k in bn]),
        "bn_batches_tracked": np.array(_batches_tracked(m), dtype=np.int64),
        "labels": np.array(LABELS, dtype=np.int64),
        "logits224_f32": _logits(m, x224, torch.float32),
        "logits_odd_f32": _logits(m, x_odd, torch.float32),
        "train_logits224_f32": _train_logits(m, x224, torch.float32),
    }
    m.double()
    out["logits224_f64"] = _logits(m, x224, torch.float64)
    out["logits_odd_f64"] = _logits(m, x_odd, torch.float64)
    out["train_logits224_f64"] = _train_logits(m, x224, torch.float64)
    out.update(_grad_fields(m, x224))  # last: it leaves the running statistics updated
    return out


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
    }
    if model == "resnet18":
        out.update(_resnet_fields(m, x224, x_odd))
    else:
        out["logits224_f32"] = _logits(m, x224, torch.float32)
        out["logits_odd_f32"] = _logits(m, x_odd, torch.float32)
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
