"""Everything the harness must know about a framework, behind one small interface.

    from harness import backends
    backend = backends.get("jax")
    backend.configure("cpu", threads=2, tf32=False)

One module per framework (torch.py, keras.py, jax.py, keras_jax.py, keras_torch.py) holds one
Backend subclass; the rest of the harness never names a framework. Adding a framework is one
file in impls/, one here, and one row in impls' registry: the backend module is found by the
framework's name ("keras-jax": keras_jax.py).
Importing a backend module imports no framework; each method imports what it needs.
"""

from __future__ import annotations

import importlib
import json
import subprocess
import sys

from harness.backends.base import Backend, MatmulRunner

_LOADED: dict[str, Backend] = {}


def get(framework: str) -> Backend:
    """The Backend of `framework` (a registered impls name)."""
    if framework not in _LOADED:
        import impls  # the registry is the one list of frameworks

        if framework not in impls.names():
            from impls.errors import ConfigError

            raise ConfigError(f"unknown framework {framework!r}; choose one of {', '.join(impls.names())}")
        module = importlib.import_module(f"harness.backends.{framework.replace('-', '_')}")
        _LOADED[framework] = module.BACKEND
    return _LOADED[framework]


_PROBE = r"""
import json, os, sys
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
name = sys.argv[1]
out = {"framework": name}
try:
    import impls
    from harness import backends
    out["versions"] = impls.implementation_class(name).versions()
    out["gpus"] = backends.get(name).gpus()
except Exception as error:  # report, never crash the listing
    out["error"] = f"{type(error).__name__}: {error}"
print(json.dumps(out))
"""


def probe(framework: str, timeout: float = 120.0) -> dict:
    """{framework, versions, gpus} or {framework, error}, found in a subprocess of its own:
    a broken install of one framework cannot hide the others (and importing all three in
    one process is slow)."""
    import impls

    reason = impls.unavailable_reason(framework)
    if reason:
        return {"framework": framework, "error": reason}
    try:
        done = subprocess.run(
            [sys.executable, "-c", _PROBE, framework], capture_output=True, text=True, timeout=timeout
        )
        return json.loads(done.stdout.strip().splitlines()[-1])
    except (subprocess.TimeoutExpired, json.JSONDecodeError, IndexError) as error:
        return {"framework": framework, "error": f"probe failed: {error}"}


__all__ = ["Backend", "MatmulRunner", "get", "probe"]
