"""The run journal: an append-only JSON-lines log from which a run's whole state can be rebuilt.

Every event is one line ``{"seq": n, "type": ..., "time": ..., "schema": 1, ...data}``, written
with one ``write`` and made durable (flush + fsync) before :meth:`Journal.append` returns, so a
process killed at any moment loses no event it had reported as written. A killed writer can leave
a torn last line; reading skips it and opening for append cuts it off, so the journal stays valid.

Value types (:mod:`gome_core.types`) go in and out through :data:`converter` (cattrs):
``to_data(node)`` gives plain JSON data, ``from_data(data, Node)`` the frozen value back.
"""

from __future__ import annotations

import json
import os
import threading
import time
import types
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any, TypeVar

import cattrs

from gome_core.durability import sync_dir
from gome_core.errors import UsageError
from gome_core.logs import get_logger

__all__ = ["SCHEMA_VERSION", "Journal", "JournalError", "converter", "from_data", "to_data"]

log = get_logger(__name__)

#: Version of the event layout; readers refuse journals written by a newer gome.
SCHEMA_VERSION = 1
#: The fields the journal gives every event, besides ``type``.
RESERVED_FIELDS = frozenset({"seq", "time", "schema"})

T = TypeVar("T")


class JournalError(UsageError):
    """A journal that cannot be read or written (not a torn last line: that is tolerated)."""


def _make_converter() -> cattrs.Converter:
    conv = cattrs.Converter()
    conv.register_unstructure_hook(Path, str)
    conv.register_structure_hook(Path, lambda value, _: Path(value))
    conv.register_unstructure_hook(types.MappingProxyType, lambda m: conv.unstructure(dict(m)))
    # Schemas of LLM requests are classes: journal their import path, not the class.
    conv.register_unstructure_hook(type, lambda cls: f"{cls.__module__}:{cls.__qualname__}")
    conv.register_structure_hook(type, lambda value, _: value)
    conv.register_structure_hook(Any, lambda value, _: value)
    return conv


#: The converter for journal data; plugins may register hooks for their own payload types.
converter = _make_converter()


def to_data(value: Any) -> Any:
    """``value`` (a value type, or containers of them) as JSON-ready data."""
    return converter.unstructure(value)


def from_data(data: Any, cls: type[T]) -> T:
    """The value of type ``cls`` that :func:`to_data` turned into ``data``."""
    return converter.structure(data, cls)


class Journal:
    """An append-only, durable event log. Safe to append to from several threads."""

    def __init__(self, path: str | Path, *, durable: bool = True) -> None:
        self.path = Path(path)
        self.durable = durable
        self._lock = threading.Lock()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._seq = self._repair_and_count()
        created = not self.path.exists()
        self._file = open(self.path, "ab")  # noqa: SIM115 - held open for the journal's life
        if created and durable:
            sync_dir(self.path.parent)  # the new file's name survives a power cut too

    def _repair_and_count(self) -> int:
        """Cut off a torn last line left by a killed writer; return the number of events."""
        if not self.path.exists():
            return 0
        with open(self.path, "rb+") as f:
            data = f.read()
            end = data.rfind(b"\n") + 1
            if end < len(data):
                log.warning(
                    "journal: dropping a torn last line", path=str(self.path), bytes=len(data) - end
                )
                f.truncate(end)
                f.flush()
                os.fsync(f.fileno())
        return sum(1 for _ in self.read(self.path))

    @property
    def seq(self) -> int:
        """Number of events written so far (the next event's ``seq``)."""
        return self._seq

    def append(self, type: str, **data: Any) -> dict[str, Any]:
        """Write one event durably and return it as written.

        ``data`` may not use the names every event carries (``seq``, ``time``, ``schema``): an
        event's own field would hide the journal's, and readers rely on those.
        """
        clash = sorted(RESERVED_FIELDS & data.keys())
        if clash:
            raise ValueError(
                f"journal event {type!r}: field(s) {', '.join(clash)} are reserved for the "
                f"journal ({', '.join(sorted(RESERVED_FIELDS))}); rename them"
            )
        with self._lock:
            event = {
                "seq": self._seq,
                "type": type,
                "time": time.time(),
                "schema": SCHEMA_VERSION,
                **to_data(data),
            }
            line = json.dumps(event, separators=(",", ":"), default=str).encode() + b"\n"
            self._file.write(line)
            self._file.flush()
            if self.durable:
                os.fsync(self._file.fileno())
            self._seq += 1
        return event

    def close(self) -> None:
        with self._lock:
            if not self._file.closed:
                self._file.close()

    def __enter__(self) -> Journal:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    @staticmethod
    def read(path: str | Path) -> Iterator[dict[str, Any]]:
        """The events of the journal at ``path``, in order; a torn last line is skipped."""
        path = Path(path)
        try:
            raw = path.read_bytes()
        except FileNotFoundError:
            raise JournalError(f"no journal at {path}: is this a gome run directory?") from None
        lines = raw.split(b"\n")
        for number, line in enumerate(lines, start=1):
            if not line.strip():
                continue
            try:
                event = json.loads(line)
            except json.JSONDecodeError:
                if number == len(lines):  # the last line, without its newline: torn by a kill
                    return
                raise JournalError(
                    f"{path}, line {number}, is not valid JSON: the journal was damaged "
                    f"in the middle, not by a killed writer. Restore it from a copy."
                ) from None
            schema = event.get("schema", 0) if isinstance(event, Mapping) else None
            # A non-number is an event's own field that hid the version (earlier gome wrote one
            # in `llm_repair` events): such an event is of this version or an older one.
            if schema is None or (isinstance(schema, int | float) and schema > SCHEMA_VERSION):
                raise JournalError(
                    f"{path}, line {number}: written by a newer gome (schema "
                    f"{event.get('schema') if isinstance(event, Mapping) else '?'}); upgrade gome."
                )
            yield dict(event)
