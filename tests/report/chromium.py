"""A small headless-Chromium driver for page tests, on the DevTools protocol over pipes.

No websocket and no port: Chromium's ``--remote-debugging-pipe`` reads commands from fd 3 and
writes replies and events to fd 4, as JSON messages ended by a NUL byte. It records what a test
must check: console messages, uncaught exceptions, JavaScript dialogs (an ``alert`` fired by an
injected script), and every URL the page requested.
"""

from __future__ import annotations

import base64
import json
import os
import select
import shutil
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

__all__ = ["Browser", "find_chromium"]

CANDIDATES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable", "chrome")


def find_chromium() -> str | None:
    """The path of a Chromium or Chrome binary (``GOME_CHROMIUM`` first), else ``None``."""
    explicit = os.environ.get("GOME_CHROMIUM")
    if explicit:
        return explicit if Path(explicit).exists() else shutil.which(explicit)
    return next((path for name in CANDIDATES if (path := shutil.which(name))), None)


class BrowserError(RuntimeError):
    pass


class Browser:
    """One headless Chromium with one page. Use as a context manager."""

    def __init__(self, binary: str, *, width: int = 1280, height: int = 2000) -> None:
        self.binary, self.width, self.height = binary, width, height
        self.console: list[dict[str, Any]] = []  # {"level": ..., "text": ...}
        self.exceptions: list[str] = []
        self.dialogs: list[str] = []
        self.requests: list[str] = []
        self._id = 0
        self._replies: dict[int, dict[str, Any]] = {}
        self._buffer = b""

    # ----------------------------------------------------------------- process

    def __enter__(self) -> Browser:
        self._profile = tempfile.mkdtemp(prefix="gome-chromium-")
        to_chrome_r, self._to_chrome = os.pipe()
        self._from_chrome, from_chrome_w = os.pipe()

        def child_fds() -> None:
            # Chromium expects the pipe on fds 3 (commands in) and 4 (messages out).
            high_r, high_w = os.dup(to_chrome_r), os.dup(from_chrome_w)
            os.dup2(high_r, 3)
            os.dup2(high_w, 4)

        # Its log goes to a file: a pipe that nobody reads would stall Chromium once it filled.
        self._log = Path(self._profile).with_suffix(".log")
        log = self._log.open("wb")
        self._proc = subprocess.Popen(
            [
                self.binary,
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--no-default-browser-check",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--disable-extensions",
                "--hide-scrollbars",
                "--mute-audio",
                f"--user-data-dir={self._profile}",
                f"--window-size={self.width},{self.height}",
                "--remote-debugging-pipe",
                "about:blank",
            ],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=log,
            preexec_fn=child_fds,
            pass_fds=(3, 4),
            close_fds=True,
        )
        log.close()
        os.close(to_chrome_r)
        os.close(from_chrome_w)
        try:
            targets = self.send("Target.getTargets")["targetInfos"]
            page = next(t for t in targets if t["type"] == "page")
            self.session = self.send(
                "Target.attachToTarget", targetId=page["targetId"], flatten=True
            )["sessionId"]
            for domain in ("Page", "Runtime", "Log", "Network"):
                self.send(f"{domain}.enable", session=True)
            self.send(
                "Emulation.setDeviceMetricsOverride",
                session=True,
                width=self.width,
                height=self.height,
                deviceScaleFactor=1,
                mobile=False,
            )
        except BaseException:
            self.__exit__(None, None, None)
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        try:
            if self._proc.poll() is None:
                try:
                    self.send("Browser.close", timeout=5)
                except Exception:
                    pass
                try:
                    self._proc.wait(timeout=5)
                except subprocess.TimeoutExpired:
                    self._proc.kill()
                    self._proc.wait(timeout=5)
        finally:
            for fd in (self._to_chrome, self._from_chrome):
                try:
                    os.close(fd)
                except OSError:
                    pass
            shutil.rmtree(self._profile, ignore_errors=True)
            self._log.unlink(missing_ok=True)

    # ----------------------------------------------------------------- protocol

    def send(self, method: str, *, session: bool = False, timeout: float = 30, **params: Any):
        """Send one command and wait for its result (handling the events that arrive)."""
        self._id += 1
        number = self._id
        message: dict[str, Any] = {"id": number, "method": method, "params": params}
        if session:
            message["sessionId"] = self.session
        os.write(self._to_chrome, json.dumps(message).encode() + b"\0")
        deadline = time.monotonic() + timeout
        while number not in self._replies:
            self._dispatch(self._receive(deadline))
        reply = self._replies.pop(number)
        if "error" in reply:
            raise BrowserError(f"{method}: {reply['error']}")
        return reply.get("result", {})

    def _dispatch(self, message: dict[str, Any]) -> None:
        if "id" in message:
            self._replies[message["id"]] = message
            return
        self._record(message)
        if message.get("method") == "Page.javascriptDialogOpening":
            # An open dialog blocks the page's scripts: dismiss it (it is already recorded).
            self.send("Page.handleJavaScriptDialog", session=True, accept=True)

    def _receive(self, deadline: float) -> dict[str, Any]:
        while b"\0" not in self._buffer:
            left = deadline - time.monotonic()
            if left <= 0:
                raise BrowserError("Chromium did not answer in time")
            ready, _, _ = select.select([self._from_chrome], [], [], left)
            if not ready:
                continue
            chunk = os.read(self._from_chrome, 1 << 20)
            if not chunk:
                tail = self._log.read_bytes()[-2000:].decode(errors="replace")
                raise BrowserError(f"Chromium closed the pipe: {tail}")
            self._buffer += chunk
        raw, _, self._buffer = self._buffer.partition(b"\0")
        return json.loads(raw)

    def _record(self, event: dict[str, Any]) -> None:
        method, params = event.get("method"), event.get("params", {})
        if method == "Runtime.consoleAPICalled":
            text = " ".join(str(a.get("value", a.get("description", ""))) for a in params["args"])
            self.console.append({"level": params["type"], "text": text})
        elif method == "Log.entryAdded":
            entry = params["entry"]
            self.console.append({"level": entry["level"], "text": entry["text"]})
        elif method == "Runtime.exceptionThrown":
            details = params["exceptionDetails"]
            self.exceptions.append(
                details.get("exception", {}).get("description") or details.get("text", "")
            )
        elif method == "Page.javascriptDialogOpening":
            self.dialogs.append(params.get("message", ""))
        elif method == "Network.requestWillBeSent":
            self.requests.append(params["request"]["url"])

    def wait_for(self, method: str, timeout: float = 30) -> None:
        """Wait until an event named ``method`` arrives."""
        deadline = time.monotonic() + timeout
        while True:
            message = self._receive(deadline)
            self._dispatch(message)
            if message.get("method") == method:
                return

    # ----------------------------------------------------------------- page

    def open(self, url: str, timeout: float = 30) -> None:
        """Load ``url`` and wait for its load event, then let scripts settle."""
        self.send("Page.navigate", session=True, url=url)
        self.wait_for("Page.loadEventFired", timeout)
        self.evaluate("new Promise(r => requestAnimationFrame(() => setTimeout(r, 50)))")

    def evaluate(self, expression: str) -> Any:
        """The JSON value of a JavaScript expression in the page (promises awaited)."""
        reply = self.send(
            "Runtime.evaluate",
            session=True,
            expression=expression,
            returnByValue=True,
            awaitPromise=True,
        )
        if "exceptionDetails" in reply:
            raise BrowserError(f"{expression!r} raised: {reply['exceptionDetails']}")
        return reply["result"].get("value")

    def screenshot(self, path: Path, *, full_page: bool = True) -> Path:
        """A PNG of the page (the whole page, or the viewport)."""
        params: dict[str, Any] = {"format": "png"}
        if full_page:
            size = self.evaluate(
                "[document.documentElement.scrollWidth, document.documentElement.scrollHeight]"
            )
            params["clip"] = {"x": 0, "y": 0, "width": size[0], "height": size[1], "scale": 1}
            params["captureBeyondViewport"] = True
        data = self.send("Page.captureScreenshot", session=True, **params)["data"]
        path.write_bytes(base64.b64decode(data))
        return path

    def errors(self) -> list[str]:
        """Console errors and uncaught exceptions, as text."""
        return [
            m["text"] for m in self.console if m["level"] in ("error", "assert")
        ] + self.exceptions
