"""The shared LLM machinery: schemas, parsing, prices, context fitting, retries, keys."""

from __future__ import annotations

import enum
import pickle
from typing import Any, Literal

import attrs
import pytest
from attrs import frozen

from gome_core.llm import (
    Failure,
    ModelPrice,
    PriceTable,
    RetryPolicy,
    SchemaViolation,
    Secret,
    Section,
    TokenCounts,
    extract_json,
    find_rejected_param,
    fit_messages,
    fit_sections,
    json_schema,
    llm_field,
    parse_retry_after,
    parse_structured,
    prompt_budget,
    resolve_api_key,
    scrub,
)
from gome_core.llm.errors import LLMError, LLMSchemaError, MissingAPIKeyError
from gome_core.types import Message


class Component(enum.Enum):
    DATA = "data loading"
    MODEL = "model"


@frozen
class Scores:
    """Multi-dimensional scores."""

    impact: float = llm_field(ge=1, le=10, description="expected metric impact")
    novelty: int = attrs.field(
        validator=[attrs.validators.ge(1), attrs.validators.le(10)], default=5
    )


@frozen
class Hypothesis:
    statement: str
    component: Component
    scores: Scores | None = None


@frozen
class Plan:
    """A plan.

    With a longer second paragraph that is not part of the description.
    """

    hypotheses: tuple[Hypothesis, ...] = llm_field(max_items=5)
    stage: Literal["draft", "improve", "ensemble"] = "improve"
    tags: list[str] = attrs.field(factory=list)
    weight: float | None = None


# --------------------------------------------------------------------------- schemas


def _objects(schema: dict[str, Any]):
    if schema.get("type") == "object":
        yield schema
    for value in schema.values():
        if isinstance(value, dict):
            yield from _objects(value)
        elif isinstance(value, list):
            for item in value:
                if isinstance(item, dict):
                    yield from _objects(item)


def test_every_object_is_strict():
    schema = json_schema(Plan)
    assert schema["description"] == "A plan."
    objects = list(_objects(schema))
    assert len(objects) == 3
    for obj in objects:
        assert obj["additionalProperties"] is False
        assert obj["required"] == list(obj["properties"])


def test_types_map_to_strict_json_schema():
    props = json_schema(Plan)["properties"]
    assert props["stage"] == {"type": "string", "enum": ["draft", "improve", "ensemble"]}
    assert props["tags"] == {"type": "array", "items": {"type": "string"}}
    assert props["weight"] == {"anyOf": [{"type": "number"}, {"type": "null"}]}
    assert props["hypotheses"]["maxItems"] == 5
    hypothesis = props["hypotheses"]["items"]["properties"]
    assert hypothesis["component"] == {"type": "string", "enum": ["data loading", "model"]}
    scores = hypothesis["scores"]["anyOf"][0]["properties"]
    assert scores["impact"] == {
        "type": "number",
        "description": "expected metric impact",
        "minimum": 1,
        "maximum": 10,
    }
    assert scores["novelty"] == {"type": "integer", "minimum": 1, "maximum": 10}


def test_bounds_can_go_into_descriptions():
    props = json_schema(Plan, bounds_in_schema=False)["properties"]
    assert "maxItems" not in props["hypotheses"]
    assert props["hypotheses"]["description"] == "{maxItems: 5}"
    scores = props["hypotheses"]["items"]["properties"]["scores"]["anyOf"][0]["properties"]
    assert scores["impact"]["description"] == "expected metric impact {minimum: 1, maximum: 10}"


def test_json_schema_returns_a_fresh_copy():
    json_schema(Plan)["properties"].clear()
    assert json_schema(Plan)["properties"]


@pytest.mark.parametrize(
    ("annotation", "words"),
    [
        (dict[str, int], "free-form mappings"),
        (Any, "has no strict JSON schema"),
        (tuple[int, str], "fixed-length tuples"),
    ],
)
def test_unsupported_types_name_the_field(annotation, words):
    cls = attrs.make_class("Bad", {"field_x": attrs.field(type=annotation)})
    with pytest.raises(TypeError, match="Bad.field_x") as caught:
        json_schema(cls)
    assert words in str(caught.value)


def test_recursive_schemas_are_refused():
    @frozen
    class Node:
        children: tuple[Node, ...] = ()

    with pytest.raises(TypeError, match="recursive"):
        json_schema(Node)


# --------------------------------------------------------------------------- parsing

GOOD = {
    "hypotheses": [
        {"statement": "use CV", "component": "model", "scores": {"impact": 7, "novelty": 3}}
    ],
    "stage": "draft",
    "tags": ["cv"],
    "weight": None,
}


def test_a_valid_answer_parses_into_the_class():
    plan = parse_structured(GOOD, Plan)
    assert plan.hypotheses[0].component is Component.MODEL
    assert plan.hypotheses[0].scores == Scores(7.0, 3)
    assert isinstance(plan.tags, list) and plan.stage == "draft"


def test_json_is_found_in_text_and_fences():
    text = 'Sure! ```json\n{"hypotheses": [], "stage": "draft"}\n``` Hope it helps.'
    assert parse_structured(text, Plan).stage == "draft"
    assert extract_json('prefix {"a": 1} suffix') == {"a": 1}
    with pytest.raises(SchemaViolation, match="empty"):
        extract_json("   ")


@pytest.mark.parametrize(
    ("answer", "problem"),
    [
        ({**GOOD, "stage": "polish"}, '$.stage: expected one of "draft", "improve", "ensemble"'),
        ({**GOOD, "extra": 1}, "$.extra: not in the schema"),
        ({**GOOD, "tags": "cv"}, '$.tags: expected a list, got "cv"'),
        ({**GOOD, "weight": "heavy"}, "$.weight"),
        (
            {**GOOD, "hypotheses": [{"statement": 3, "component": "model"}]},
            "$.hypotheses[0].statement: expected a string, got 3",
        ),
        (
            {**GOOD, "hypotheses": [{"statement": "s", "component": "features"}]},
            '$.hypotheses[0].component: expected one of "data loading", "model"',
        ),
        (
            {
                **GOOD,
                "hypotheses": [{"statement": "s", "component": "model", "scores": {"impact": 11}}],
            },
            "$.hypotheses[0].scores.impact: must be <= 10, got 11.0",
        ),
        (
            {**GOOD, "hypotheses": [{"statement": "s", "component": "model"}] * 6},
            "$.hypotheses: length must be <= 5, got 6",
        ),
        ({"stage": "draft"}, "$.hypotheses: required, missing"),
        ([GOOD], "$: expected an object"),
        ("{not json", "$: the answer is not valid JSON"),
        (
            {
                **GOOD,
                "hypotheses": [
                    {"statement": "s", "component": "model", "scores": {"impact": True}}
                ],
            },
            "expected a number, got true",
        ),
    ],
)
def test_violations_name_their_path(answer, problem):
    with pytest.raises(SchemaViolation) as caught:
        parse_structured(answer, Plan)
    assert any(problem in p for p in caught.value.problems), caught.value.problems


def test_integral_floats_are_accepted_as_integers():
    plan = parse_structured(
        {
            "hypotheses": [
                {"statement": "s", "component": "model", "scores": {"impact": 2, "novelty": 4.0}}
            ]
        },
        Plan,
    )
    assert plan.hypotheses[0].scores.novelty == 4


def test_the_schema_error_is_a_step_failure_carrying_usage():
    from gome_core.types import LLMUsage

    error = LLMSchemaError("Plan", ["$.x: bad"], rounds=3, model="m", usage=LLMUsage(10, 2))
    assert isinstance(error, LLMError) and error.usage.input_tokens == 10
    assert "Plan" in str(error) and "$.x: bad" in str(error) and "3 attempts" in str(error)


# --------------------------------------------------------------------------- prices


def test_prices_match_snapshots_and_prefixes():
    table = PriceTable()
    assert table.lookup("gpt-5-2025-08-07").model == "gpt-5"
    assert table.lookup("claude-haiku-4-5-20251001").model == "claude-haiku-4-5"
    assert table.lookup("openai/gpt-4.1-mini").model == "gpt-4.1-mini"
    assert table.lookup("my-local-llama") is None


def test_configured_prices_override_and_extend():
    table = PriceTable([ModelPrice("gpt-5", 1.0, 2.0), ModelPrice("ft:my-model*", 3.0, 4.0)])
    assert table.cost("gpt-5", TokenCounts(input=1_000_000, output=1_000_000)) == 3.0
    assert table.lookup("ft:my-model-v2").input == 3.0


def test_cached_tokens_are_billed_at_the_cached_rate():
    usd = PriceTable().cost("gpt-5", TokenCounts(input=1_000_000, output=0, cached=600_000))
    assert usd == pytest.approx(0.4 * 1.25 + 0.6 * 0.125)


def test_an_unknown_model_costs_nothing_and_warns_once(caplog):
    table = PriceTable()
    with caplog.at_level("WARNING"):
        assert table.cost("mystery", TokenCounts(100, 100)) == 0.0
        table.cost("mystery", TokenCounts(100, 100))
    assert sum("no price known" in r.getMessage() for r in caplog.records) == 1


# --------------------------------------------------------------------------- context


def test_fit_sections_trims_low_priority_sections_first_and_records_it():
    sections = [
        Section("task", "T" * 2000, keep="all"),
        Section("history", "\n".join(f"step {i}: tried x" for i in range(400)), priority=0),
        Section("code", "c" * 4000, priority=5, keep="start"),
    ]
    fitted = fit_sections(sections, budget_tokens=2500)
    assert fitted.fits and fitted.tokens <= 2500
    assert fitted.section("task") == "T" * 2000
    assert fitted.section("code") == "c" * 4000
    history = fitted.section("history")
    assert history.startswith("[... ") and history.endswith("step 399: tried x")
    [dropped] = fitted.dropped
    assert dropped.section == "history" and dropped.chars > 0 and dropped.tokens > 0


def test_fit_sections_reports_when_it_cannot_fit():
    fitted = fit_sections([Section("task", "T" * 10_000, keep="all")], budget_tokens=100)
    assert not fitted.fits and not fitted.dropped


def test_fit_sections_leaves_a_fitting_prompt_alone():
    sections = [Section("a", "short"), Section("b", "also short")]
    fitted = fit_sections(sections, budget_tokens=1000)
    assert fitted.sections == tuple(sections) and fitted.dropped == ()
    assert fitted.text() == "short\n\nalso short"


def test_fit_messages_drops_the_oldest_middle_turns():
    messages = [Message.user("task " * 50)]
    for i in range(20):
        messages += [Message.assistant(f"answer {i} " * 40), Message.user(f"feedback {i} " * 40)]
    fitted, removed = fit_messages(messages, budget_tokens=600)
    assert removed > 0 and fitted[0].content.startswith("task")
    assert fitted[-1] == messages[-1]
    roles = [m.role for m in fitted]
    assert all(a != b for a, b in zip(roles, roles[1:], strict=False)), roles
    assert any("earlier messages dropped" in m.content for m in fitted)


def test_prompt_budget_leaves_room_for_the_answer():
    assert prompt_budget("gpt-5", max_output_tokens=20_000) == int(400_000 * 0.95) - 20_000
    assert prompt_budget("llama-3", override=8192, max_output_tokens=1000) == 6782


# --------------------------------------------------------------------------- retries


def test_retry_after_headers():
    assert parse_retry_after({"retry-after": "2"}) == 2.0
    assert parse_retry_after({"Retry-After-Ms": "250"}) == 0.25
    assert parse_retry_after({"retry-after": "soon"}) is None
    assert parse_retry_after({"retry-after": "Wed, 21 Oct 2015 07:28:00 GMT"}) == 0.0
    assert parse_retry_after(None) is None


def test_backoff_grows_is_capped_and_honours_retry_after():
    policy = RetryPolicy(initial_s=1, max_s=5)
    assert 0.75 <= policy.delay(1) <= 1.0
    assert 3.0 <= policy.delay(3) <= 4.0
    assert policy.delay(10) <= 5.0
    assert policy.delay(1, retry_after=7.5) == 7.5


@pytest.mark.parametrize(
    ("status", "kind"),
    [
        (429, "rate_limit"),
        (500, "server"),
        (503, "server"),
        (529, "server"),
        (408, "timeout"),
        (401, "auth"),
        (403, "auth"),
        (400, "bad_request"),
        (404, "bad_request"),
    ],
)
def test_statuses_are_classified(status, kind):
    assert Failure.from_status(status).kind == kind


def test_the_server_may_say_whether_to_retry():
    assert Failure.from_status(400, headers={"x-should-retry": "true"}).retryable
    assert not Failure.from_status(503, headers={"x-should-retry": "false"}).retryable


@pytest.mark.parametrize(
    ("message", "expected"),
    [
        (
            "Unsupported parameter: 'max_tokens' is not supported with this model. "
            "Use 'max_completion_tokens' instead.",
            "max_tokens",
        ),
        ("Unsupported value: 'temperature' does not support 0.2 with this model.", "temperature"),
        ("Unrecognized request argument supplied: reasoning_effort", "reasoning_effort"),
        ("temperature: Extra inputs are not permitted", "temperature"),
        (
            "`temperature` may only be set to 1 when thinking is enabled; not supported",
            "temperature",
        ),
        ("Invalid 'messages[0].content': string too long.", None),
        ("The model `gpt-9` does not exist", None),
    ],
)
def test_rejected_parameters_are_found_in_messages(message, expected):
    candidates = {"temperature", "max_tokens", "reasoning_effort", "response_format"}
    assert find_rejected_param(message, candidates) == expected


# --------------------------------------------------------------------------- keys


def test_a_secret_does_not_show_itself():
    secret = Secret("sk-abcdef1234567890")
    assert (
        "abcdef" not in repr(secret) and "abcdef" not in str(secret) and "abcdef" not in f"{secret}"
    )
    assert secret.reveal() == "sk-abcdef1234567890"
    with pytest.raises(TypeError):
        pickle.dumps(secret)


def test_keys_come_from_the_named_variable():
    assert resolve_api_key("K", provider="p", environ={"K": " sk-1 "}).reveal() == "sk-1"
    assert not resolve_api_key("", provider="p", environ={})
    with pytest.raises(MissingAPIKeyError) as caught:
        resolve_api_key("MY_KEY", provider="acme", environ={"MY_KEY": ""}, local_hint=True)
    message = str(caught.value)
    assert "acme" in message and "MY_KEY" in message and 'api_key_env = ""' in message


def test_scrub_removes_every_secret():
    text = "key sk-one-1234567 and sk-two-1234567 and sk-one-1234567"
    assert scrub(text, [Secret("sk-one-1234567"), "sk-two-1234567"]) == (
        "key [REDACTED] and [REDACTED] and [REDACTED]"
    )
