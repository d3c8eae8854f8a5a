"""A fake ``nvidia-smi``: a small shell script that answers the GPU query from a CSV file.

It checks that it is asked exactly the query the inventory makes, then prints ``state.csv`` when
that file exists (a candidate may write it to change the figures while it runs) and ``gpus.csv``
otherwise, as the real command prints one line per GPU with ``--format=csv,noheader,nounits``.
"""

from __future__ import annotations

import os
import shlex
import stat
from pathlib import Path

import pytest
from gome_cuda.inventory import NVIDIA_SMI_QUERY

#: Four GPUs: index, uuid, name, total MiB, used MiB, utilisation %.
FOUR_GPUS = [
    (0, "GPU-00000000-aaaa-0000-0000-000000000000", "NVIDIA A100-SXM4-80GB", 81920, 500, 3),
    (1, "GPU-11111111-aaaa-0000-0000-000000000000", "NVIDIA A100-SXM4-80GB", 81920, 700, 0),
    (2, "GPU-22222222-aaaa-0000-0000-000000000000", "NVIDIA A100-SXM4-80GB", 81920, 300, 10),
    (3, "GPU-33333333-aaaa-0000-0000-000000000000", "NVIDIA A100-SXM4-80GB", 81920, 900, 0),
]
UUIDS = [row[1] for row in FOUR_GPUS]

_SCRIPT = """#!/bin/sh
here={here}
echo "$*" >> "$here/calls.log"
if [ "$1" != "--query-gpu={query}" ] || [ "$2" != "--format=csv,noheader,nounits" ]; then
    echo "fake nvidia-smi: unexpected arguments: $*" >&2
    exit 2
fi
{body}
"""


def csv_lines(rows) -> str:
    return "".join(", ".join(str(part) for part in row) + "\n" for row in rows)


class FakeSmi:
    """A fake ``nvidia-smi`` in its own folder; ``path`` is the executable."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        folder.mkdir(parents=True, exist_ok=True)
        self.path = folder / "nvidia-smi"
        self.state = folder / "state.csv"
        self.answer(FOUR_GPUS)

    def _write_script(self, body: str) -> None:
        here = shlex.quote(str(self.folder))
        script = _SCRIPT.format(here=here, query=NVIDIA_SMI_QUERY, body=body)
        tmp = self.folder / "nvidia-smi.tmp"
        tmp.write_text(script)
        tmp.chmod(tmp.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
        os.replace(tmp, self.path)

    def answer(self, rows) -> None:
        """Report ``rows`` (index, uuid, name, total, used, utilisation) from now on."""
        (self.folder / "gpus.csv").write_text(csv_lines(rows))
        self._write_script(
            'if [ -f "$here/state.csv" ]; then cat "$here/state.csv"; else cat "$here/gpus.csv"; fi'
        )

    def fail(self, message: str, exit_code: int) -> None:
        """Fail as the real command does without a driver or a device."""
        self._write_script(f"echo {shlex.quote(message)}\nexit {exit_code}")

    def calls(self) -> list[str]:
        log = self.folder / "calls.log"
        return log.read_text().splitlines() if log.exists() else []


@pytest.fixture
def fake_smi(tmp_path) -> FakeSmi:
    return FakeSmi(tmp_path / "fake-driver")
