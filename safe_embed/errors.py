"""Project exceptions: each message names the bad value and the fix."""

from __future__ import annotations


class SafeEmbedError(Exception):
    """Base class for errors the CLI reports as one line with a non-zero exit code."""


class DataError(SafeEmbedError, ValueError):
    """A data file is missing, malformed, or has the wrong columns."""


class ModelError(SafeEmbedError, ValueError):
    """A model name or path cannot be resolved or loaded."""


class ConfigError(SafeEmbedError, ValueError):
    """A configuration value is invalid."""


class ServiceUnavailableError(SafeEmbedError, RuntimeError):
    """A service part is not running, or did not start."""
