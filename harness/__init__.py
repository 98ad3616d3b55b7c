"""alexbench's harness: data, training, parity, measurement, records, reports, CLI.

Modules import no deep-learning framework at import time; each framework is loaded
only by the implementation (impls) that needs it, usually in its own subprocess.
"""

__version__ = "0.1.0"
