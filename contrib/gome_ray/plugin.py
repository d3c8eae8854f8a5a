"""The gome plugin for the Ray executor (entry point ``ray = "gome_ray.plugin"``)."""

from __future__ import annotations
