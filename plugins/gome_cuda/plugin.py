"""The gome plugin for the GPU-aware executor (entry point ``cuda = "gome_cuda.plugin"``)."""

from __future__ import annotations
