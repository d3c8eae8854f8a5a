"""The replay backend: record any backend's exchanges to a cassette, and replay them offline.

``mode = "record"`` wraps the backend named by ``inner`` and appends each exchange to the
cassette (JSON lines; secrets scrubbed). ``mode = "replay"`` answers from the cassette alone, by
the request's *fingerprint*: a hash of what does not depend on the model (system prompt,
messages, schema name, purpose). Identical requests are answered in recorded order (the last
answer repeats once they are used up). A request the cassette does not hold is a
:class:`~gome_core.llm.errors.ReplayMissError` naming the fingerprint and the cassette.

Replayed answers carry the recorded usage and model, so that budgets end a rerun where they ended
the recorded run.
"""

from __future__ import annotations

import hashlib
import json
import threading
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from attrs import field, frozen

from gome_core.config import LLMSpec
from gome_core.errors import UsageError
from gome_core.hookspecs import RegisterComponent, hookimpl
from gome_core.interfaces import LLMBackend
from gome_core.journal import from_data, to_data
from gome_core.llm.backend import one_of
from gome_core.llm.errors import ReplayMissError
from gome_core.llm.keys import Secret, environment_secrets, scrub
from gome_core.llm.schema import SchemaViolation, parse_structured, schema_name
from gome_core.logs import get_logger
from gome_core.types import LLMRequest, LLMResponse, LLMUsage

__all__ = [
    "CASSETTE_VERSION",
    "ReplayBackend",
    "ReplayConfig",
    "fingerprint",
    "register_llm_backends",
    "register_replay_backend",
]

log = get_logger(__name__)

CASSETTE_VERSION = 1


@frozen
class ReplayConfig:
    """Record exchanges to ``cassette`` (``mode = "record"``, from the backend ``inner``) or
    answer from it (``mode = "replay"``, no network)."""

    cassette: str = "llm-cassette.jsonl"
    mode: str = field(default="replay", validator=one_of("record", "replay"))
    inner: LLMSpec | None = None  # type: ignore[valid-type]


def fingerprint(request: LLMRequest) -> str:
    """The request's identity for replay: a hash of system prompt, messages, schema name and
    purpose (not the model, token limits or temperature)."""
    content = {
        "system": request.system,
        "messages": [[m.role, m.content] for m in request.messages],
        "schema": schema_name(request.schema) if request.schema is not None else None,
        "purpose": request.purpose,
    }
    digest = hashlib.sha256(
        json.dumps(content, sort_keys=True, ensure_ascii=False).encode()
    ).hexdigest()
    return digest[:24]


class ReplayBackend(LLMBackend):
    """Records or replays LLM exchanges (see the module docstring). Thread-safe."""

    def __init__(
        self,
        config: ReplayConfig | None = None,
        *,
        inner: LLMBackend | None = None,
        registry: Any = None,
    ) -> None:
        self.config = config or ReplayConfig()
        self.path = Path(self.config.cassette).expanduser()
        self._lock = threading.Lock()
        self._served: dict[str, int] = {}
        self._entries: dict[str, list[dict[str, Any]]] = {}
        self._file: Any = None
        self.inner: LLMBackend | None = None
        if self.config.mode == "record":
            if inner is None:
                if self.config.inner is None:
                    raise UsageError(
                        "the replay backend records from another backend: set llm.inner, e.g. "
                        '[llm.inner] name = "openai"  model = "gpt-5".'
                    )
                inner = self.config.inner.create(registry)
            self.inner = inner
            self.model = inner.model
            self.context_window = inner.context_window
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._file = open(self.path, "a", encoding="utf-8")  # noqa: SIM115 - held open
        else:
            self._load()
            first = next(iter(self._entries.values()), None)
            self.model = first[0]["response"].get("model", "replay") if first else "replay"

    def __repr__(self) -> str:
        inner = f", inner={self.inner!r}" if self.inner is not None else ""
        return f"ReplayBackend(mode={self.config.mode!r}, cassette={str(self.path)!r}{inner})"

    def _load(self) -> None:
        try:
            lines = self.path.read_text(encoding="utf-8").splitlines()
        except FileNotFoundError:
            raise UsageError(
                f"replay: cassette {self.path} does not exist. Record one first with "
                f'llm.mode = "record" and an inner backend (llm.inner).'
            ) from None
        for number, line in enumerate(lines, start=1):
            if not line.strip():
                continue
            try:
                entry = json.loads(line)
            except json.JSONDecodeError:
                if number == len(lines):  # a recorder killed mid-line: tolerated
                    log.warning("replay: skipping a torn last line", cassette=str(self.path))
                    continue
                raise UsageError(
                    f"replay: cassette {self.path}, line {number}, is not valid JSON."
                ) from None
            self._entries.setdefault(entry["fingerprint"], []).append(entry)

    def complete(self, request: LLMRequest) -> LLMResponse:
        key = fingerprint(request)
        if self.inner is not None:
            response = self.inner.complete(request)
            self._record(key, request, response)
            return response
        with self._lock:
            entries = self._entries.get(key)
            if not entries:
                raise ReplayMissError(key, str(self.path), request.purpose)
            index = self._served.get(key, 0)
            self._served[key] = index + 1
        entry = entries[min(index, len(entries) - 1)]
        recorded = entry["response"]
        parsed = None
        if request.schema is not None:
            try:
                parsed = parse_structured(recorded.get("parsed"), request.schema)
            except SchemaViolation as exc:
                raise UsageError(
                    f"replay: the answer recorded for {key} in {self.path} no longer fits "
                    f"{schema_name(request.schema)} ({exc}). Record the cassette again."
                ) from None
        return LLMResponse(
            text=recorded.get("text", ""),
            model=recorded.get("model", self.model),
            usage=from_data(recorded.get("usage", {}), LLMUsage),
            parsed=parsed,
        )

    def _secrets(self) -> list[Secret | str]:
        found: list[Secret | str] = list(environment_secrets())
        secrets = getattr(self.inner, "secrets", None)
        if callable(secrets):
            found += secrets()
        return found

    def _record(self, key: str, request: LLMRequest, response: LLMResponse) -> None:
        secrets = self._secrets()

        def clean(value: Any) -> Any:
            if isinstance(value, str):
                return scrub(value, secrets)
            if isinstance(value, Mapping):
                return {k: clean(v) for k, v in value.items()}
            if isinstance(value, (list, tuple)):
                return [clean(v) for v in value]
            return value

        entry = {
            "v": CASSETTE_VERSION,
            "fingerprint": key,
            "purpose": request.purpose,
            "schema": schema_name(request.schema) if request.schema is not None else None,
            "recorded_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "request": clean(
                {
                    "system": request.system,
                    "messages": [{"role": m.role, "content": m.content} for m in request.messages],
                }
            ),
            "response": clean(
                {
                    "text": response.text,
                    "model": response.model,
                    "usage": to_data(response.usage),
                    "parsed": to_data(response.parsed) if response.parsed is not None else None,
                }
            ),
        }
        line = json.dumps(entry, ensure_ascii=False, separators=(",", ":")) + "\n"
        with self._lock:
            self._file.write(line)
            self._file.flush()

    def close(self) -> None:
        with self._lock:
            if self._file is not None and not self._file.closed:
                self._file.close()
        if self.inner is not None:
            self.inner.close()

    def interrupt(self) -> None:
        if self.inner is not None:
            self.inner.interrupt()


def register_replay_backend(register: RegisterComponent) -> None:
    """Register the ``replay`` LLM backend (called from the core's ``register_llm_backends``)."""
    register(
        ReplayBackend,
        name="replay",
        config=ReplayConfig,
        description="Records any backend's exchanges to a cassette, or replays them offline.",
    )


@hookimpl
def register_llm_backends(register: RegisterComponent) -> None:
    """This module is also a plugin by itself: ``load_plugins(extra=[("replay", module)])``."""
    register_replay_backend(register)
