"""The Acme backend of docs/llm-backends.md, run as written against a server speaking its format.

The test kit's server answers the OpenAI and Anthropic protocols only; Acme has a wire format of
its own (``POST /chat``), so this is the "small HTTP server of your own" the docs suggest.
"""

from __future__ import annotations

import json
import re
import socket
import threading
import types
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from gome_core.llm import LLMAuthError, LLMUnavailableError
from gome_core.testing.llm_suite import EXPECTED, VALID, SuiteVerdict
from gome_core.types import LLMRequest, Message

DOC = Path(__file__).resolve().parents[2] / "docs" / "llm-backends.md"
KEY = "acme-test-key-5f4e3d2c1b"


class AcmeServer(ThreadingHTTPServer):
    """Answers ``POST /chat`` from a script of ``(status, headers, body)``; records requests."""

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _AcmeHandler)
        self.script: list[tuple[int, dict[str, str], dict]] = []
        self.requests: list[tuple[str, dict[str, str], dict]] = []

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/v1"


class _AcmeHandler(BaseHTTPRequestHandler):
    server: AcmeServer

    def do_POST(self) -> None:  # noqa: N802 - the http.server API
        body = json.loads(self.rfile.read(int(self.headers["content-length"])))
        headers = {name.lower(): value for name, value in self.headers.items()}
        self.server.requests.append((self.path, headers, body))
        status, headers, answer = self.server.script.pop(0)
        payload = json.dumps(answer).encode()
        self.send_response(status)
        for name, value in {**headers, "content-type": "application/json"}.items():
            self.send_header(name, value)
        self.send_header("content-length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def acme_server() -> Iterator[AcmeServer]:
    server = AcmeServer()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def acme() -> types.ModuleType:
    """The docs' example, as the module a plugin author would write."""
    blocks = re.findall(r"```python\n(.*?)```", DOC.read_text(), flags=re.S)
    (source,) = [block for block in blocks if "class AcmeBackend" in block]
    module = types.ModuleType("acme_plugin")
    exec(compile(source, str(DOC), "exec"), module.__dict__)
    return module


def _answer(text: str) -> tuple[int, dict[str, str], dict]:
    return 200, {}, {"text": text, "model": "acme-large-2026-06", "input_tokens": 40,
                     "output_tokens": 9}  # fmt: skip


def test_the_acme_example_answers_structured_and_retries_a_rate_limit(
    acme, acme_server, monkeypatch
):
    monkeypatch.setenv("ACME_API_KEY", KEY)
    backend = acme.AcmeBackend(
        acme.AcmeConfig(base_url=acme_server.url, backoff_initial_s=0.01, repair_rounds=1)
    )
    acme_server.script = [
        (429, {"retry-after": "0.05"}, {"error": "slow down"}),
        _answer(json.dumps(VALID)),
    ]
    response = backend.complete(
        LLMRequest((Message.user("Is this candidate sound?"),), schema=SuiteVerdict)
    )
    assert response.parsed == EXPECTED
    assert response.model == "acme-large-2026-06"
    assert (response.usage.input_tokens, response.usage.output_tokens) == (40, 9)
    assert len(acme_server.requests) == 2  # the rate limit, then the answer
    path, headers, body = acme_server.requests[-1]
    assert path == "/v1/chat" and headers["authorization"] == f"Bearer {KEY}"
    assert body["model"] == "acme-large" and body["messages"][-1]["role"] == "user"
    assert set(body["json_schema"]["properties"]) == {"verdict", "findings", "note", "confidence"}
    assert KEY not in repr(backend)


def test_the_acme_example_does_not_retry_a_refused_key(acme, acme_server, monkeypatch):
    monkeypatch.setenv("ACME_API_KEY", KEY)
    backend = acme.AcmeBackend(acme.AcmeConfig(base_url=acme_server.url))
    acme_server.script = [(401, {}, {"error": "unknown key"})]
    with pytest.raises(LLMAuthError) as caught:
        backend.complete(LLMRequest((Message.user("Hello?"),)))
    assert len(acme_server.requests) == 1
    assert KEY not in str(caught.value)


def test_the_acme_example_registers_as_a_plugin(acme, gome_registry_factory, monkeypatch):
    monkeypatch.setenv("ACME_API_KEY", KEY)
    registry = gome_registry_factory(acme=acme)
    assert "acme" in registry.names("llm")
    monkeypatch.delenv("ACME_API_KEY")
    with pytest.raises(Exception, match="ACME_API_KEY"):  # a missing key says which variable
        registry.get("llm", "acme").create(None)


def test_the_acme_example_retries_a_malformed_answer(acme, acme_server, monkeypatch):
    monkeypatch.setenv("ACME_API_KEY", KEY)
    backend = acme.AcmeBackend(acme.AcmeConfig(base_url=acme_server.url, backoff_initial_s=0.01))
    acme_server.script = [(200, {}, {"oops": "no text"}), _answer("Hello.")]
    assert backend.complete(LLMRequest((Message.user("Hello?"),))).text == "Hello."
    assert len(acme_server.requests) == 2


def test_the_acme_example_reports_a_refused_connection(acme, monkeypatch):
    monkeypatch.setenv("ACME_API_KEY", KEY)
    with socket.socket() as unused:  # a port nobody listens on
        unused.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{unused.getsockname()[1]}/v1"
    backend = acme.AcmeBackend(acme.AcmeConfig(base_url=url, backoff_initial_s=0.01, max_retries=2))
    with pytest.raises(LLMUnavailableError) as caught:
        backend.complete(LLMRequest((Message.user("Hello?"),)))
    assert caught.value.kind == "connection"  # retried, then reported: not a bug in the plugin
