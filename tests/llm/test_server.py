"""The local wire server itself: routes, recording, faults, and a prompt stop."""

from __future__ import annotations

import http.client
import json
import threading
import time

from gome_core.testing.llm_server import LLMServer, Reply


def _post(server: LLMServer, path: str, body: dict, timeout: float = 5.0):
    host, port = server.url.removeprefix("http://").split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=timeout)
    connection.request(
        "POST", path, json.dumps(body), {"content-type": "application/json", "x-api-key": "k"}
    )
    response = connection.getresponse()
    return response.status, dict(response.getheaders()), response.read()


def test_routes_and_records():
    with LLMServer() as server:
        status, _, raw = _post(
            server,
            "/v1/chat/completions",
            {
                "model": "m",
                "messages": [{"role": "system", "content": "s"}, {"role": "user", "content": "hi"}],
            },
        )
        assert status == 200 and json.loads(raw)["choices"][0]["message"]["content"] == "echo: hi"
        status, _, raw = _post(
            server,
            "/v1/messages",
            {
                "model": "m",
                "max_tokens": 5,
                "messages": [{"role": "user", "content": [{"type": "text", "text": "yo"}]}],
            },
        )
        body = json.loads(raw)
        assert status == 200 and body["content"][0]["text"] == "echo: yo"
        assert body["usage"]["input_tokens"] >= 1
        status, _, _ = _post(server, "/v1/embeddings", {})
        assert status == 404
        first, second = server.requests[:2]
        assert (first.wire, first.system, first.last_user_text) == ("openai", "s", "hi")
        assert (second.wire, second.headers["x-api-key"]) == ("anthropic", "k")


def test_faults_carry_retry_after_and_provider_error_bodies():
    with LLMServer() as server:
        server.fail(429, "slow down", retry_after=1.5).fail(529, "overloaded")
        status, headers, raw = _post(server, "/v1/chat/completions", {"messages": []})
        assert status == 429 and headers["retry-after"] == "1.5"
        assert json.loads(raw)["error"]["type"] == "rate_limit_error"
        status, _, raw = _post(server, "/v1/messages", {"messages": []})
        assert status == 529 and json.loads(raw)["error"]["type"] == "overloaded_error"
        assert server.pending == 0


def test_structured_requests_without_a_script_get_a_clear_400():
    with LLMServer() as server:
        status, _, raw = _post(
            server,
            "/v1/chat/completions",
            {
                "messages": [],
                "response_format": {
                    "type": "json_schema",
                    "json_schema": {"name": "x", "schema": {"type": "object"}},
                },
            },
        )
        assert status == 400 and b"script one" in raw


def test_a_broken_handler_is_a_500_that_says_so():
    def handler(request):
        raise RuntimeError("oops")

    with LLMServer(handler) as server:
        status, _, raw = _post(server, "/v1/messages", {"messages": []})
        assert status == 500 and b"RuntimeError: oops" in raw


def test_stop_cuts_a_slow_answer_short():
    server = LLMServer().start()
    server.slow(60, Reply("never"))
    thread = threading.Thread(target=lambda: _safe_post(server.url, "/v1/messages"), daemon=True)
    thread.start()
    while not server.requests:
        time.sleep(0.01)
    server.stop()
    # The answer would take a minute: the client is let go long before that.
    thread.join(timeout=30)
    assert not thread.is_alive()


def _safe_post(url: str, path: str) -> None:
    host, port = url.removeprefix("http://").split(":")
    try:
        connection = http.client.HTTPConnection(host, int(port), timeout=5)
        connection.request("POST", path, "{}", {"content-type": "application/json"})
        connection.getresponse().read()
    except OSError:
        pass
