"""Structured output: attrs classes as strict JSON schemas, and answers parsed back into them.

:func:`json_schema` turns an attrs class into the strict subset of JSON Schema that providers'
structured-output mechanisms accept (OpenAI ``response_format`` ``json_schema`` with
``strict: true``, Anthropic tool ``input_schema``): every object lists all its properties as
required and forbids others; an optional value is a union with ``null``. Supported field types:
``str``, ``int``, ``float``, ``bool``, enums and ``Literal``, ``X | None``, unions, ``list`` /
``tuple[X, ...]`` / ``Sequence``, and nested attrs classes (not recursive ones).

Bounds come from the fields' attrs validators (``ge``, ``le``, ``gt``, ``lt``, ``in_``,
``min_len``, ``max_len``) or :func:`llm_field`, and descriptions from ``metadata={"description":
...}`` and class docstrings. Providers that cannot enforce a bound get it written into the
description instead (``bounds_in_schema=False``); :func:`parse_structured` checks every bound
either way, because it builds the instance through the class itself.
"""

from __future__ import annotations

import enum
import functools
import json
import re
import types
import typing
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Literal, TypeVar

import attrs
import cattrs
from attrs import frozen
from cattrs.errors import (
    ClassValidationError,
    ForbiddenExtraKeysError,
    IterableValidationError,
    IterableValidationNote,
)
from cattrs.gen import make_dict_structure_fn

__all__ = [
    "SchemaViolation",
    "StructuredOutput",
    "extract_json",
    "json_schema",
    "llm_field",
    "parse_structured",
    "repair_prompt",
    "schema_instructions",
    "schema_name",
]

T = TypeVar("T")

_NONE = type(None)


class SchemaViolation(ValueError):
    """An answer that does not fit its schema; ``problems`` are ``"$.path: what is wrong"``."""

    def __init__(self, problems: Sequence[str]) -> None:
        self.problems = list(problems) or ["the answer does not fit the schema"]
        super().__init__("; ".join(self.problems))


# --------------------------------------------------------------------------- declaring fields


def llm_field(
    *,
    description: str = "",
    ge: float | None = None,
    le: float | None = None,
    gt: float | None = None,
    lt: float | None = None,
    min_items: int | None = None,
    max_items: int | None = None,
    default: Any = attrs.NOTHING,
    factory: Callable[[], Any] | None = None,
    converter: Callable[[Any], Any] | None = None,
) -> Any:
    """An attrs field for a schema class: a description for the model and enforced bounds.

    ``score: float = llm_field(ge=1, le=10, description="1 (bad) to 10 (excellent)")``
    """
    validators: list[Any] = []
    for bound, make in ((ge, attrs.validators.ge), (le, attrs.validators.le)):
        if bound is not None:
            validators.append(make(bound))
    for bound, make in ((gt, attrs.validators.gt), (lt, attrs.validators.lt)):
        if bound is not None:
            validators.append(make(bound))
    if min_items is not None:
        validators.append(attrs.validators.min_len(min_items))
    if max_items is not None:
        validators.append(attrs.validators.max_len(max_items))
    metadata = {"description": description} if description else {}
    kwargs: dict[str, Any] = {"metadata": metadata, "validator": validators or None}
    if factory is not None:
        kwargs["factory"] = factory
    elif default is not attrs.NOTHING:
        kwargs["default"] = default
    if converter is not None:
        kwargs["converter"] = converter
    return attrs.field(**kwargs)


# --------------------------------------------------------------------------- schema generation


def schema_name(cls: type) -> str:
    """The schema's name as providers want it: ``[A-Za-z0-9_-]{1,64}``."""
    name = re.sub(r"[^A-Za-z0-9_-]", "_", getattr(cls, "__name__", "answer"))
    return name[:64] or "answer"


def _doc(cls: type) -> str:
    doc = (cls.__doc__ or "").strip()
    if not doc or doc.startswith(f"{cls.__name__}("):  # attrs' generated placeholder
        return ""
    return doc.split("\n\n")[0].replace("\n", " ").strip()


def _bounds(validator: Any) -> dict[str, Any]:
    """JSON-schema keywords for the attrs validators we understand."""
    out: dict[str, Any] = {}
    if validator is None:
        return out
    name = type(validator).__name__
    if name == "_AndValidator":
        for sub in validator._validators:
            out.update(_bounds(sub))
    elif name == "_OptionalValidator":
        out.update(_bounds(validator.validator))
    elif name == "_NumberValidator":
        key = {
            ">=": "minimum",
            "<=": "maximum",
            ">": "exclusiveMinimum",
            "<": "exclusiveMaximum",
        }.get(validator.compare_op)
        if key:
            out[key] = validator.bound
    elif name == "_MinLengthValidator":
        out["minLength"] = validator.min_length
    elif name == "_MaxLengthValidator":
        out["maxLength"] = validator.max_length
    elif name == "_InValidator":
        options = list(validator.options)
        if all(isinstance(o, (str, int, float, bool)) for o in options):
            out["enum"] = options
    return out


#: Keywords that strict structured output enforces when ``bounds_in_schema`` is true.
_ENFORCED = {
    "integer": {"minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"},
    "number": {"minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"},
    "array": {"minItems", "maxItems"},
    "string": set(),
}


def _apply_bounds(schema: dict[str, Any], bounds: dict[str, Any], keep: bool) -> dict[str, Any]:
    if not bounds:
        return schema
    if "enum" in bounds and "enum" not in schema:
        schema["enum"] = bounds.pop("enum")
    else:
        bounds.pop("enum", None)
    target = schema
    if "anyOf" in schema:  # an optional value: the bounds belong to the non-null branch
        target = next((s for s in schema["anyOf"] if s.get("type") != "null"), schema)
    kind = target.get("type")
    if kind == "array":  # length validators on a sequence bound its items, not characters
        for src, dst in (("minLength", "minItems"), ("maxLength", "maxItems")):
            if src in bounds:
                bounds[dst] = bounds.pop(src)
    written: list[str] = []
    for key, value in bounds.items():
        if keep and key in _ENFORCED.get(str(kind), set()):
            target[key] = value
        else:
            written.append(f"{key}: {value}")
    if written:
        note = "{" + ", ".join(written) + "}"
        schema["description"] = (
            f"{schema['description']} {note}" if "description" in schema else note
        )
    return schema


def _type_schema(tp: Any, *, keep: bool, stack: tuple[type, ...], where: str) -> dict[str, Any]:
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if tp is _NONE or tp is None:
        return {"type": "null"}
    if tp is bool:
        return {"type": "boolean"}
    if tp is int:
        return {"type": "integer"}
    if tp is float:
        return {"type": "number"}
    if tp is str:
        return {"type": "string"}
    if isinstance(tp, type) and issubclass(tp, enum.Enum):
        return _enum_schema([m.value for m in tp], where)
    if origin is Literal:
        return _enum_schema(list(args), where)
    if origin in (typing.Union, types.UnionType):
        variants = [_type_schema(a, keep=keep, stack=stack, where=where) for a in args]
        nulls = [v for v in variants if v == {"type": "null"}]
        others = [v for v in variants if v != {"type": "null"}]
        return {"anyOf": others + nulls[:1]}
    if origin in (list, tuple, frozenset, set) or (
        origin is not None and isinstance(origin, type) and issubclass(origin, Sequence)
    ):
        if origin is tuple and not (len(args) == 2 and args[1] is Ellipsis):
            raise TypeError(
                f"{where}: fixed-length tuples ({tp}) have no strict JSON schema; "
                f"use tuple[X, ...] or a nested attrs class"
            )
        item = args[0] if args else str
        if item is Any:
            raise TypeError(f"{where}: a sequence of Any has no strict JSON schema")
        return {"type": "array", "items": _type_schema(item, keep=keep, stack=stack, where=where)}
    if isinstance(tp, type) and attrs.has(tp):
        return _object_schema(tp, keep=keep, stack=stack)
    raise TypeError(
        f"{where}: type {tp!r} has no strict JSON schema (free-form mappings and Any cannot be "
        f"structured output); use str, numbers, bool, enums, Literal, lists or nested attrs classes"
    )


def _enum_schema(values: list[Any], where: str) -> dict[str, Any]:
    if not values:
        raise TypeError(f"{where}: an empty enum")
    if all(isinstance(v, str) for v in values):
        return {"type": "string", "enum": values}
    if all(isinstance(v, int) and not isinstance(v, bool) for v in values):
        return {"type": "integer", "enum": values}
    if all(isinstance(v, (int, float, str, bool)) for v in values):
        return {"enum": values}
    raise TypeError(f"{where}: enum values must be strings or numbers, got {values!r}")


def _object_schema(cls: type, *, keep: bool, stack: tuple[type, ...]) -> dict[str, Any]:
    if cls in stack:
        raise TypeError(f"{cls.__qualname__} refers to itself: recursive schemas are not supported")
    try:
        hints = typing.get_type_hints(cls, localns={cls.__name__: cls})
    except NameError as exc:
        raise TypeError(
            f"{cls.__qualname__}: a field's type cannot be resolved ({exc}); define the classes "
            f"of a schema at module level"
        ) from None
    properties: dict[str, Any] = {}
    for a in attrs.fields(cls):
        if not a.init:
            continue
        key = a.alias or a.name
        where = f"{cls.__qualname__}.{a.name}"
        schema = _type_schema(
            hints.get(a.name, a.type), keep=keep, stack=(*stack, cls), where=where
        )
        description = a.metadata.get("description") if a.metadata else None
        if description:
            schema["description"] = description
        properties[key] = _apply_bounds(schema, _bounds(a.validator), keep)
    out: dict[str, Any] = {"type": "object"}
    doc = _doc(cls)
    if doc:
        out["description"] = doc
    out.update(properties=properties, required=list(properties), additionalProperties=False)
    return out


@functools.lru_cache(maxsize=256)
def _cached_schema(cls: type, keep: bool) -> str:
    if not (isinstance(cls, type) and attrs.has(cls)):
        raise TypeError(f"a schema must be an attrs class, got {cls!r}")
    return json.dumps(_object_schema(cls, keep=keep, stack=()))


def json_schema(cls: type, *, bounds_in_schema: bool = True) -> dict[str, Any]:
    """The strict JSON schema of attrs class ``cls`` (a fresh dict on every call).

    With ``bounds_in_schema=False`` numeric and length bounds go into descriptions, for providers
    whose strict mode rejects those keywords. Unsupported field types raise ``TypeError`` naming
    the field.
    """
    return json.loads(_cached_schema(cls, bounds_in_schema))


@frozen
class StructuredOutput:
    """What a provider needs to ask for structured output: a name, a description, the schema."""

    cls: type
    name: str
    description: str
    schema: Mapping[str, Any]

    @classmethod
    def for_class(cls, schema: type, *, bounds_in_schema: bool = True) -> StructuredOutput:
        return cls(
            schema,
            schema_name(schema),
            _doc(schema) or f"The answer, as a {schema.__name__} object.",
            json_schema(schema, bounds_in_schema=bounds_in_schema),
        )


# --------------------------------------------------------------------------- parsing answers


def _describe(value: Any) -> str:
    text = json.dumps(value) if not isinstance(value, str) else f'"{value}"'
    return text if len(text) <= 60 else text[:57] + "..."


class _Mismatch(ValueError):
    pass


def _strict_int(value: Any, _: type) -> int:
    if isinstance(value, bool):
        raise _Mismatch(f"expected an integer, got {_describe(value)}")
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    raise _Mismatch(f"expected an integer, got {_describe(value)}")


def _strict_float(value: Any, _: type) -> float:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    raise _Mismatch(f"expected a number, got {_describe(value)}")


def _strict_str(value: Any, _: type) -> str:
    if isinstance(value, str):
        return value
    raise _Mismatch(f"expected a string, got {_describe(value)}")


def _strict_bool(value: Any, _: type) -> bool:
    if isinstance(value, bool):
        return value
    raise _Mismatch(f"expected true or false, got {_describe(value)}")


def _make_converter() -> cattrs.Converter:
    conv = cattrs.Converter(forbid_extra_keys=True, detailed_validation=True)
    conv.register_structure_hook(int, _strict_int)
    conv.register_structure_hook(float, _strict_float)
    conv.register_structure_hook(str, _strict_str)
    conv.register_structure_hook(bool, _strict_bool)

    def structure_enum(value: Any, cls: type[enum.Enum]) -> enum.Enum:
        try:
            return cls(value)
        except ValueError:
            allowed = ", ".join(_describe(m.value) for m in cls)
            raise _Mismatch(f"expected one of {allowed}, got {_describe(value)}") from None

    conv.register_structure_hook_func(
        lambda t: isinstance(t, type) and issubclass(t, enum.Enum), structure_enum
    )

    def is_literal(t: Any) -> bool:
        return typing.get_origin(t) is Literal

    def literal_hook(tp: Any) -> Callable[[Any, type], Any]:
        allowed = typing.get_args(tp)

        def structure_literal(value: Any, _: type) -> Any:
            for option in allowed:  # `1 == True` in Python: compare types too
                if value == option and type(value) is type(option):
                    return option
            listed = ", ".join(_describe(o) for o in allowed)
            raise _Mismatch(f"expected one of {listed}, got {_describe(value)}")

        return structure_literal

    conv.register_structure_hook_factory(is_literal, literal_hook)

    def is_sequence(t: Any) -> bool:
        origin = typing.get_origin(t)
        return origin in (list, tuple, set, frozenset) or (
            isinstance(origin, type) and issubclass(origin, Sequence) and origin is not str
        )

    def sequence_hook(tp: Any) -> Callable[[Any, type], Any]:
        origin = typing.get_origin(tp)
        args = typing.get_args(tp)
        item = args[0] if args else Any
        build: Callable[[list[Any]], Any] = (
            list
            if origin is list
            else frozenset
            if origin is frozenset
            else set
            if origin is set
            else tuple
        )

        def structure_sequence(value: Any, _: type) -> Any:
            if not isinstance(value, (list, tuple)):
                raise _Mismatch(f"expected a list, got {_describe(value)}")
            out, errors = [], []
            for index, element in enumerate(value):
                try:
                    out.append(conv.structure(element, item))
                except Exception as exc:
                    exc.__notes__ = [
                        *getattr(exc, "__notes__", []),
                        IterableValidationNote(f"Structuring {tp} @ index {index}", index, item),
                    ]
                    errors.append(exc)
            if errors:
                raise IterableValidationError(f"While structuring {tp}", errors, tp)
            return build(out)

        return structure_sequence

    conv.register_structure_hook_factory(is_sequence, sequence_hook)

    def is_object(t: Any) -> bool:
        return isinstance(t, type) and attrs.has(t)

    def object_hook(cls: type) -> Callable[[Any, type], Any]:
        generated = make_dict_structure_fn(
            cls, conv, _cattrs_forbid_extra_keys=True, _cattrs_detailed_validation=True
        )

        def structure_object(value: Any, _: type) -> Any:
            if not isinstance(value, Mapping):
                raise _Mismatch(f"expected an object, got {_describe(value)}")
            return generated(value, cls)

        return structure_object

    conv.register_structure_hook_factory(is_object, object_hook)
    return conv


_converter = _make_converter()


def _problems(exc: BaseException, path: str = "$") -> list[str]:
    out: list[str] = []
    if isinstance(exc, (ClassValidationError, IterableValidationError)):
        with_notes, without = exc.group_exceptions()
        for sub, note in with_notes:
            if isinstance(exc, IterableValidationError):
                step = f"[{note.index}]"
            else:
                step = f".{note.name}"
            out.extend(_problems(sub, path + step))
        for sub in without:
            out.extend(_problems(sub, path))
    elif isinstance(exc, ForbiddenExtraKeysError):
        out.extend(f"{path}.{key}: not in the schema" for key in sorted(exc.extra_fields))
    elif isinstance(exc, KeyError):
        out.append(f"{path}: required, missing")
    elif isinstance(exc, cattrs.errors.CattrsError) and "not in literal" in str(exc):
        out.append(f"{path}: {exc}")
    elif isinstance(exc, (ValueError, TypeError)):
        out.append(_validator_problem(str(exc), path))
    else:
        out.append(f"{path}: {type(exc).__name__}: {exc}")
    return out


_VALIDATOR_MESSAGE = re.compile(r"^(Length of )?'(\w+)' must be (.+): (.+)$", re.DOTALL)


def _validator_problem(message: str, path: str) -> str:
    """attrs' ``"'score' must be <= 10: 12"`` as ``"$.score: must be <= 10, got 12"``."""
    match = _VALIDATOR_MESSAGE.match(message)
    if match is None:
        return f"{path}: {message}"
    length, name, condition, value = match.groups()
    what = "length must be" if length else "must be"
    return f"{path}.{name}: {what} {condition}, got {value}"


_FENCE = re.compile(r"```(?:json|JSON)?\s*\n?(.*?)```", re.DOTALL)


def extract_json(text: str) -> Any:
    """The JSON value in a model's text answer: the whole text, a fenced block, or the outermost
    ``{...}``. Raises :class:`SchemaViolation` when there is none."""
    candidates = [text.strip()]
    candidates += [m.strip() for m in _FENCE.findall(text)]
    start, end = text.find("{"), text.rfind("}")
    if 0 <= start < end:
        candidates.append(text[start : end + 1])
    error = "the answer is empty" if not text.strip() else ""
    for candidate in candidates:
        if not candidate:
            continue
        try:
            return json.loads(candidate)
        except json.JSONDecodeError as exc:
            error = error or f"the answer is not valid JSON ({exc.msg} at character {exc.pos})"
    raise SchemaViolation([f"$: {error or 'no JSON object found in the answer'}"])


def parse_structured(answer: Any, cls: type[T]) -> T:
    """``answer`` (JSON text, or already decoded data) as a validated instance of ``cls``.

    Raises :class:`SchemaViolation` listing every problem with its path, in words a model can act
    on in a repair round.
    """
    data = extract_json(answer) if isinstance(answer, str) else answer
    try:
        return _converter.structure(data, cls)
    except (ClassValidationError, IterableValidationError) as exc:
        raise SchemaViolation(_problems(exc)) from None
    except (_Mismatch, ValueError, TypeError, KeyError) as exc:
        raise SchemaViolation(_problems(exc)) from None


def repair_prompt(problems: Sequence[str], output: StructuredOutput, *, via_tool: bool) -> str:
    """The follow-up message of a repair round: what was wrong, and how to answer again."""
    listed = "\n".join(f"- {p}" for p in problems[:20])
    how = (
        f"Call the tool `{output.name}` again with the complete, corrected input."
        if via_tool
        else f"Answer again with the complete, corrected JSON object for `{output.name}` only."
    )
    return (
        f"Your previous answer does not match the required schema `{output.name}`:\n{listed}\n\n"
        f"{how} Keep every field; fix only what is listed."
    )


def schema_instructions(output: StructuredOutput) -> str:
    """How to answer when the provider cannot be given the schema itself (a server without
    structured output): the schema, in the prompt."""
    return (
        f"Answer with one JSON object `{output.name}` that matches this JSON schema, and nothing "
        f"else (no prose, no code fence):\n{json.dumps(dict(output.schema), indent=1)}"
    )
