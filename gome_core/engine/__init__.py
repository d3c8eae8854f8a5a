"""The engine that drives any optimizer, and the run directory it writes."""

from gome_core.engine.core import Engine, EngineSettings, RunOutcome
from gome_core.engine.rundir import RunDirectory

__all__ = ["Engine", "EngineSettings", "RunDirectory", "RunOutcome"]
