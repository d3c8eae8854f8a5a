import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

from gome_core import LLMBackend, LLMRequest, LLMResponse, LLMUsage, Message
from gome_core.engine.metering import MeteredLLM, StepUsage, developing
from gome_core.llm.errors import LLMUnavailableError


class Fixed(LLMBackend):
    model = "fixed"

    def complete(self, request):
        return LLMResponse("ok", "fixed", LLMUsage(input_tokens=10, output_tokens=5, usd=0.01))


def test_usage_is_added_to_the_step_and_reported():
    calls = []
    llm = MeteredLLM(Fixed(), on_call=lambda **kw: calls.append(kw))
    request = LLMRequest((Message.user("hi"),), purpose="reasoning")
    with StepUsage() as step:
        llm.complete(request)
        llm.complete(request)
    assert step.usage.calls == 2 and step.usage.total_tokens == 30
    assert step.usage.latency_s > 0 and llm.total == step.usage
    assert [c["purpose"] for c in calls] == ["reasoning", "reasoning"]
    assert calls[0]["usage"].calls == 1 and calls[0]["model"] == "fixed"


class Waiting(LLMBackend):
    """Answers once released; ``interrupt`` ends the calls waiting."""

    model = "waiting"

    def __init__(self):
        self.called = threading.Event()
        self.release = threading.Event()
        self.interrupted = 0

    def complete(self, request):
        self.called.set()
        if not self.release.wait(10):
            raise AssertionError("never released")
        if self.interrupted:
            raise LLMUnavailableError("interrupted", kind="interrupted")
        return LLMResponse("ok", "waiting", LLMUsage(input_tokens=1, output_tokens=1))

    def interrupt(self):
        self.interrupted += 1
        self.release.set()


def test_once_the_time_is_up_development_calls_are_refused_and_judging_ones_are_not():
    time_up = threading.Event()
    llm = MeteredLLM(Fixed(), time_up=time_up)
    request = LLMRequest((Message.user("hi"),), purpose="reasoning")
    time_up.set()
    with developing(), pytest.raises(LLMUnavailableError, match="time is up") as refused:
        llm.complete(request)
    assert refused.value.kind == "interrupted"
    assert llm.complete(request).text == "ok"  # a validator's call, on code already run


def test_development_calls_are_interrupted_only_when_no_judging_call_is_in_progress():
    inner = Waiting()
    llm = MeteredLLM(inner)
    request = LLMRequest((Message.user("hi"),), purpose="judge")
    with ThreadPoolExecutor(1) as pool:
        judging = pool.submit(llm.complete, request)
        assert inner.called.wait(5)
        assert llm.interrupt_developing() is False and inner.interrupted == 0
        inner.release.set()
        assert judging.result(timeout=5).text == "ok"
    assert llm.interrupt_developing() is True and inner.interrupted == 1
