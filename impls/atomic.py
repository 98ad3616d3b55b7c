"""Write a file atomically: a temporary file in the same folder, flushed to disk, then renamed
over the target. A reader, or a run interrupted halfway, never sees a partial file.

This is the one atomic writer of the project: records, parity and overhead documents,
reports and weight files all go through `write_atomic`. It lives in impls (the lowest
layer) so that `impls.save_weights` can use it without impls depending on the harness.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

Payload = bytes | str | Callable[[BinaryIO], None]


def write_atomic(path: str | os.PathLike, payload: Payload, mode: int = 0o644) -> Path:
    """Write `payload` (bytes, text as UTF-8, or a function that writes to a binary file)
    to `path` atomically; returns the path. On any error the target is untouched and no
    temporary file is left behind."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            if callable(payload):
                payload(f)
            else:
                f.write(payload.encode("utf-8") if isinstance(payload, str) else payload)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, mode)  # mkstemp makes it owner-only; results are meant to be shared
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return path
