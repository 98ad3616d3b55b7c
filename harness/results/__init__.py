"""Results: the record type, the one atomic writer, the folder layout, and reading them back.

from harness import results
results.load("results")          # every record as a pandas DataFrame
"""

from harness.results.record import (
    KINDS,
    LEGACY_DEFAULT_MODES,
    LEGACY_IN_CHANNELS,
    LEGACY_MODE_ORDER,
    LEGACY_MODES,
    SCHEMA,
    VERSION,
    OtherDocument,
    Record,
    Workload,
    envelope,
    read,
    recorded,
)
from harness.results.store import (
    RUN_ID_RULE,
    Layout,
    check_run_id,
    check_writable,
    documents,
    iter_files,
    load,
    load_all,
    scan,
    unused_path,
    utc_stamp,
    write,
    write_json,
    write_text,
)

__all__ = [
    "KINDS", "LEGACY_DEFAULT_MODES", "LEGACY_IN_CHANNELS", "LEGACY_MODE_ORDER", "LEGACY_MODES", "SCHEMA", "VERSION",
    "Layout", "OtherDocument", "Record", "documents", "envelope", "iter_files", "load", "load_all",
    "read", "unused_path", "utc_stamp", "write", "write_json", "write_text", "RUN_ID_RULE", "check_run_id",
    "check_writable", "scan", "Workload", "recorded",
]  # fmt: skip
