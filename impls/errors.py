"""Errors a user can cause. Each message names the problem and the fix.

The CLI prints these as one line (no traceback) and exits non-zero; anything
else is a bug and keeps its traceback.
"""


class AlexBenchError(Exception):
    """Base class of every error caused by input, configuration or environment."""


class ConfigError(AlexBenchError, ValueError):
    """An invalid AlexNetConfig / SGDConfig field or an unsupported combination."""


class InputError(AlexBenchError, ValueError):
    """Images or labels that a model cannot take (shape, dtype, NaN, range)."""


class WeightsError(AlexBenchError, ValueError):
    """Canonical weights with wrong names or shapes, or an unreadable weight file."""


class FrameworkUnavailableError(AlexBenchError, ImportError):
    """The framework behind an implementation is not installed."""


class DeviceUnavailableError(AlexBenchError, RuntimeError):
    """A device (GPU) was asked for and the framework finds none."""


class DataError(AlexBenchError, ValueError):
    """A dataset that is missing, empty or malformed."""


class ResultsWriteError(AlexBenchError):
    """A result file could not be written (a full disk, a read-only folder): the run stops,
    every file written before stays intact."""
