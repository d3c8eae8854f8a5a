"""A local LLM wire server for tests: real HTTP on 127.0.0.1, scripted answers, faults on demand.

It speaks the OpenAI chat-completions protocol (``POST {url}/v1/chat/completions``) and the
Anthropic messages protocol (``POST {url}/v1/messages``), usage fields included, so the official
SDKs run unmodified against it through their ``base_url``::

    with LLMServer() as server:
        server.reply("hello")                                  # a text answer
        server.fail(429, retry_after=0.05)                     # then a rate limit...
        server.reply(data={"score": 3})                        # ...then a structured answer
        backend = MyBackend(MyConfig(base_url=server.openai_url, ...))
        ...
        assert server.requests[0].headers["authorization"] == "Bearer test-key"

Answers are served in the order they were scripted; when none is left, :attr:`LLMServer.handler`
(a function of the :class:`RecordedRequest`) answers, by default echoing the last user message.
A structured answer (``data``) comes back the way the request asked for it: as the message
content for OpenAI's ``response_format``, as a ``tool_use`` block for Anthropic tools.
Every request is recorded, headers and body included. The server runs in daemon threads and
stops with :meth:`LLMServer.stop` (or the ``with`` block), cutting short any slow answer.
"""

from __future__ import annotations

import itertools
import json
import math
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from attrs import field, frozen

__all__ = ["Fault", "LLMServer", "Malformed", "RecordedRequest", "Reply", "Slow"]


# --------------------------------------------------------------------------- scripted answers


@frozen
class Reply:
    """A successful answer: ``text``, or structured ``data``, with its usage.

    Token counts left ``None`` are estimated from the request and the answer. ``finish`` is
    ``stop``, ``length`` (cut off) or ``refusal`` (``text`` is then the refusal).
    """

    text: str | None = None
    data: Any = None
    model: str | None = None
    input_tokens: int | None = None
    output_tokens: int | None = None
    cached_tokens: int = 0
    cache_write_tokens: int = 0
    reasoning_tokens: int = 0
    finish: str = "stop"


@frozen
class Fault:
    """An HTTP error: ``status`` with the provider's error body; ``retry_after`` (seconds) adds
    the ``Retry-After`` header. ``param`` names a rejected request parameter (OpenAI style)."""

    status: int = 500
    message: str = "injected fault"
    retry_after: float | None = None
    param: str | None = None
    code: str | None = None
    headers: Mapping[str, str] = field(factory=dict)


@frozen
class Slow:
    """Wait ``delay_s`` before answering ``then`` (the handler's answer when ``None``)."""

    delay_s: float
    then: Reply | Fault | None = None


@frozen
class Malformed:
    """A 200 answer whose body is not valid JSON."""

    body: bytes = b'{"id": "broken", "choices": [{"message": '


Answer = Reply | Fault | Slow | Malformed


# --------------------------------------------------------------------------- requests


def _text_of(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        parts = []
        for block in content:
            if isinstance(block, Mapping):
                if block.get("type") in ("text", "input_text"):
                    parts.append(str(block.get("text", "")))
                elif block.get("type") == "tool_result":
                    parts.append(_text_of(block.get("content", "")))
                elif block.get("type") == "tool_use":
                    parts.append(json.dumps(block.get("input")))
            elif isinstance(block, str):
                parts.append(block)
        return "\n".join(parts)
    return ""


@frozen
class RecordedRequest:
    """One request the server received. ``headers`` has lower-case names."""

    wire: str  # "openai" or "anthropic"
    method: str
    path: str
    headers: Mapping[str, str]
    body: Any
    raw: bytes = field(repr=False)
    received_at: float = 0.0

    @property
    def model(self) -> str:
        return str(self.body.get("model", "")) if isinstance(self.body, Mapping) else ""

    @property
    def system(self) -> str | None:
        """The system prompt (OpenAI: the system/developer messages joined)."""
        if not isinstance(self.body, Mapping):
            return None
        if self.wire == "anthropic":
            system = self.body.get("system")
            return None if system is None else _text_of(system)
        parts = [
            _text_of(m.get("content"))
            for m in self.body.get("messages", [])
            if m.get("role") in ("system", "developer")
        ]
        return "\n".join(parts) if parts else None

    @property
    def messages(self) -> list[tuple[str, str]]:
        """``(role, text)`` of the user and assistant messages, in order."""
        if not isinstance(self.body, Mapping):
            return []
        return [
            (m.get("role", ""), _text_of(m.get("content")))
            for m in self.body.get("messages", [])
            if m.get("role") in ("user", "assistant")
        ]

    @property
    def last_user_text(self) -> str:
        users = [text for role, text in self.messages if role == "user"]
        return users[-1] if users else ""

    @property
    def schema(self) -> dict[str, Any] | None:
        """The JSON schema the request asks the answer to fit, if any."""
        if not isinstance(self.body, Mapping):
            return None
        if self.wire == "openai":
            fmt = self.body.get("response_format") or {}
            if fmt.get("type") == "json_schema":
                return dict(fmt.get("json_schema", {}).get("schema") or {})
            return None
        tools = self.body.get("tools") or []
        return dict(tools[0].get("input_schema") or {}) if tools else None

    @property
    def schema_name(self) -> str | None:
        """The name of the schema asked for (OpenAI's ``json_schema.name``, Anthropic's tool)."""
        if self.wire == "openai":
            fmt = self.body.get("response_format") if isinstance(self.body, Mapping) else None
            if isinstance(fmt, Mapping) and fmt.get("type") == "json_schema":
                return fmt.get("json_schema", {}).get("name")
            return None
        return self.tool_name

    @property
    def tool_name(self) -> str | None:
        tools = self.body.get("tools") if isinstance(self.body, Mapping) else None
        return tools[0].get("name") if tools else None

    def json(self) -> Any:
        return self.body


def echo(request: RecordedRequest) -> Answer:
    """The default handler: echo the last user message; a structured request gets a 400 that
    says to script an answer."""
    if request.schema is not None:
        return Fault(
            400,
            "llm test server: no scripted answer for this structured request; "
            "script one with server.reply(data=...)",
        )
    return Reply(text=f"echo: {request.last_user_text}")


# --------------------------------------------------------------------------- wire formats

_ids = itertools.count(1)


def _estimate(text: str) -> int:
    return max(1, math.ceil(len(text) / 4))


def _render_openai(request: RecordedRequest, reply: Reply) -> dict[str, Any]:
    content = reply.text if reply.data is None else json.dumps(reply.data)
    content = content or ""
    prompt = reply.input_tokens
    if prompt is None:
        prompt = _estimate((request.system or "") + "".join(t for _, t in request.messages))
    completion = reply.output_tokens
    if completion is None:
        completion = _estimate(content) + reply.reasoning_tokens
    refusal = reply.finish == "refusal"
    finish = {"stop": "stop", "length": "length", "refusal": "stop"}.get(reply.finish, "stop")
    return {
        "id": f"chatcmpl-{next(_ids)}",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": reply.model or request.model,
        "choices": [
            {
                "index": 0,
                "message": {
                    "role": "assistant",
                    "content": None if refusal else content,
                    "refusal": content if refusal else None,
                },
                "finish_reason": finish,
                "logprobs": None,
            }
        ],
        "usage": {
            "prompt_tokens": prompt,
            "completion_tokens": completion,
            "total_tokens": prompt + completion,
            "prompt_tokens_details": {"cached_tokens": reply.cached_tokens},
            "completion_tokens_details": {"reasoning_tokens": reply.reasoning_tokens},
        },
    }


def _render_anthropic(request: RecordedRequest, reply: Reply) -> dict[str, Any]:
    blocks: list[dict[str, Any]] = []
    thinking = isinstance(request.body, Mapping) and (request.body.get("thinking") or {}).get(
        "type"
    ) in ("enabled", "adaptive")
    if thinking:
        blocks.append({"type": "thinking", "thinking": "Let me think.", "signature": "c2ln"})
    tool = request.tool_name
    if reply.data is not None and tool and reply.finish != "refusal":
        blocks.append(
            {"type": "tool_use", "id": f"toolu_{next(_ids)}", "name": tool, "input": reply.data}
        )
        stop = "tool_use"
        said = json.dumps(reply.data)
    else:
        said = reply.text if reply.data is None else json.dumps(reply.data)
        said = said or ""
        blocks.append({"type": "text", "text": said})
        stop = "end_turn"
    if reply.finish == "length":
        stop = "max_tokens"
    elif reply.finish == "refusal":
        stop = "refusal"
    total_in = reply.input_tokens
    if total_in is None:
        total_in = _estimate((request.system or "") + "".join(t for _, t in request.messages))
    output = reply.output_tokens
    if output is None:
        output = _estimate(said) + reply.reasoning_tokens
    usage: dict[str, Any] = {
        # Anthropic counts cache reads and writes apart from input_tokens.
        "input_tokens": max(total_in - reply.cached_tokens - reply.cache_write_tokens, 0),
        "output_tokens": output,
        "cache_read_input_tokens": reply.cached_tokens,
        "cache_creation_input_tokens": reply.cache_write_tokens,
    }
    if reply.cache_write_tokens:
        # Written to the cache lifetime the request asked for, as the API reports it.
        ttls = [
            block.get("cache_control", {}).get("ttl", "5m")
            for block in request.body.get("system") or []
            if isinstance(block, dict) and block.get("cache_control")
        ]
        long = reply.cache_write_tokens if "1h" in ttls else 0
        usage["cache_creation"] = {
            "ephemeral_5m_input_tokens": reply.cache_write_tokens - long,
            "ephemeral_1h_input_tokens": long,
        }
    if reply.reasoning_tokens:
        usage["output_tokens_details"] = {"thinking_tokens": reply.reasoning_tokens}
    return {
        "id": f"msg_{next(_ids)}",
        "type": "message",
        "role": "assistant",
        "model": reply.model or request.model,
        "content": blocks,
        "stop_reason": stop,
        "stop_sequence": None,
        "usage": usage,
    }


def _error_body(wire: str, fault: Fault) -> dict[str, Any]:
    if wire == "anthropic":
        kind = {
            429: "rate_limit_error",
            529: "overloaded_error",
            401: "authentication_error",
            403: "permission_error",
            404: "not_found_error",
        }.get(fault.status, "api_error" if fault.status >= 500 else "invalid_request_error")
        return {"type": "error", "error": {"type": kind, "message": fault.message}}
    kind = (
        "rate_limit_error"
        if fault.status == 429
        else "server_error"
        if fault.status >= 500
        else "invalid_request_error"
    )
    return {
        "error": {"message": fault.message, "type": kind, "param": fault.param, "code": fault.code}
    }


# --------------------------------------------------------------------------- the server


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    allow_reuse_address = True
    owner: LLMServer


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    timeout = 10  # an idle keep-alive connection is closed after this
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:  # quiet: tests read requests
        pass

    def do_GET(self) -> None:
        self._send_json(404, {"error": {"message": f"no route {self.path}"}})

    def do_POST(self) -> None:
        owner = self.server.owner
        length = int(self.headers.get("content-length") or 0)
        raw = self.rfile.read(length) if length else b""
        path = self.path.split("?", 1)[0].rstrip("/")
        if path.endswith("/chat/completions"):
            wire = "openai"
        elif path.endswith("/messages"):
            wire = "anthropic"
        else:
            self._send_json(404, {"error": {"message": f"no route {self.path}"}})
            return
        try:
            body = json.loads(raw) if raw else None
        except json.JSONDecodeError:
            body = None
        request = RecordedRequest(
            wire,
            "POST",
            self.path,
            {k.lower(): v for k, v in self.headers.items()},
            body,
            raw,
            time.time(),
        )
        answer = owner._next(request)
        try:
            self._answer(wire, request, answer)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up (a time-out): nothing to answer to

    def _answer(self, wire: str, request: RecordedRequest, answer: Answer) -> None:
        owner = self.server.owner
        if isinstance(answer, Slow):
            if owner._stopping.wait(answer.delay_s):
                self.close_connection = True
                return
            answer = answer.then if answer.then is not None else owner._handle(request)
            self._answer(wire, request, answer)
            return
        if isinstance(answer, Malformed):
            self._send(200, answer.body, "application/json")
            return
        if isinstance(answer, Fault):
            headers = dict(answer.headers)
            if answer.retry_after is not None:
                headers["retry-after"] = f"{answer.retry_after:g}"
            self._send_json(answer.status, _error_body(wire, answer), headers)
            return
        render = _render_openai if wire == "openai" else _render_anthropic
        self._send_json(200, render(request, answer))

    def _send_json(
        self, status: int, payload: Any, headers: Mapping[str, str] | None = None
    ) -> None:
        self._send(status, json.dumps(payload).encode(), "application/json", headers)

    def _send(
        self,
        status: int,
        body: bytes,
        content_type: str,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        self.send_response(status)
        self.send_header("content-type", content_type)
        self.send_header("content-length", str(len(body)))
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(body)
        self.wfile.flush()


class LLMServer:
    """An OpenAI- and Anthropic-compatible HTTP server on 127.0.0.1 (a free port).

    Thread-safe: answers and recorded requests are guarded by a lock, and several requests are
    served at once.
    """

    def __init__(self, handler: Callable[[RecordedRequest], Answer] | None = None) -> None:
        #: Answers a request when no scripted answer is left.
        self.handler: Callable[[RecordedRequest], Answer] = handler or echo
        self._script: deque[Answer] = deque()
        self._requests: list[RecordedRequest] = []
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle

    def start(self) -> LLMServer:
        if self._server is not None:
            return self
        self._stopping.clear()
        self._server = _Server(("127.0.0.1", 0), _Handler)
        self._server.owner = self
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name="gome-llm-test-server",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving; slow answers in flight are cut short."""
        self._stopping.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._server = self._thread = None

    def __enter__(self) -> LLMServer:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    # -- addresses

    @property
    def url(self) -> str:
        """``http://127.0.0.1:PORT``: the Anthropic SDK's ``base_url``."""
        if self._server is None:
            raise RuntimeError("the LLM test server is not running: call start()")
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    @property
    def openai_url(self) -> str:
        """``http://127.0.0.1:PORT/v1``: the OpenAI SDK's ``base_url``."""
        return f"{self.url}/v1"

    anthropic_url = url

    # -- scripting

    def script(self, *answers: Answer) -> LLMServer:
        """Queue answers, served in order before the handler is asked."""
        with self._lock:
            self._script.extend(answers)
        return self

    def reply(self, text: str | None = None, *, data: Any = None, **usage: Any) -> LLMServer:
        """Queue a text (or, with ``data``, structured) answer; see :class:`Reply`."""
        return self.script(Reply(text=text, data=data, **usage))

    def fail(self, status: int = 500, message: str = "injected fault", **kwargs: Any) -> LLMServer:
        """Queue an HTTP error; see :class:`Fault`."""
        return self.script(Fault(status, message, **kwargs))

    def slow(self, delay_s: float, then: Reply | Fault | None = None) -> LLMServer:
        """Queue an answer given only after ``delay_s`` seconds."""
        return self.script(Slow(delay_s, then))

    def malformed(self) -> LLMServer:
        """Queue a 200 answer that is not valid JSON."""
        return self.script(Malformed())

    @property
    def pending(self) -> int:
        """Scripted answers not served yet."""
        with self._lock:
            return len(self._script)

    # -- what was received

    @property
    def requests(self) -> list[RecordedRequest]:
        """The requests received so far, in order."""
        with self._lock:
            return list(self._requests)

    def clear(self) -> None:
        """Forget the recorded requests and the scripted answers."""
        with self._lock:
            self._requests.clear()
            self._script.clear()

    def _next(self, request: RecordedRequest) -> Answer:
        with self._lock:
            self._requests.append(request)
            if self._script:
                return self._script.popleft()
        return self._handle(request)

    def _handle(self, request: RecordedRequest) -> Answer:
        try:
            return self.handler(request)
        except Exception as exc:  # a broken handler is a test bug: say so on the wire
            return Fault(500, f"llm test server handler failed: {type(exc).__name__}: {exc}")
