from gome_core import LLMBackend, LLMRequest, LLMResponse, LLMUsage, Message
from gome_core.engine.metering import MeteredLLM, StepUsage


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
