"""Loggers for gome's modules.

``get_logger(__name__)`` returns a structlog logger that writes through the standard library's
logger of that name. So gome never configures logging for its host, and a host that configures
nothing sees only warnings and errors (on stderr, the standard library's last resort): a library
must not print debug lines into its user's stdout. The ``gome`` CLI configures both structlog and
the standard library (:mod:`gome_core.cli.logs`).
"""

from __future__ import annotations

import logging
from typing import Any

import structlog

__all__ = ["get_logger"]


def get_logger(name: str, **initial_values: Any) -> Any:
    """A structlog logger bound to the standard library logger ``name``."""
    return structlog.wrap_logger(logging.getLogger(name), **initial_values)
