"""The Gome optimizer: reasoning as gradient, success memory as momentum, traces as distributed
optimization (Zhang et al., Findings of ACL 2026)."""

from gome_gradient.coordinator import CoordinatorConfig, GomeCoordinator
from gome_gradient.memory import SuccessMemory, SuccessMemoryConfig
from gome_gradient.optimizer import GomeConfig, GomeOptimizer

__all__ = [
    "CoordinatorConfig",
    "GomeConfig",
    "GomeCoordinator",
    "GomeOptimizer",
    "SuccessMemory",
    "SuccessMemoryConfig",
]
