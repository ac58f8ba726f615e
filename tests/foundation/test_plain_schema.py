"""`plainly_valid` may skip jsonschema only for schemas jsonschema itself calls valid."""

from __future__ import annotations

from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from jsonschema import exceptions, validators  # type: ignore[import-untyped,unused-ignore]

from runtime.agentfile.plain_schema import KEYWORDS, plainly_valid

SCALARS = st.one_of(
    st.none(), st.booleans(), st.integers(-3, 3), st.floats(allow_nan=False, width=16), st.text(max_size=3),
    st.sampled_from(["object", "string", "integer", "number", "array", "boolean", "null", "strin"]),
)
VALUES = st.recursive(SCALARS, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=2), inner,
                                                                                         max_size=2), max_leaves=6)
KEYS = st.sampled_from([*KEYWORDS, "properties", "items", "additionalProperties", "pattern", "$ref", "nullable"])


def schemas() -> st.SearchStrategy[Any]:
    return st.recursive(
        st.dictionaries(KEYS, VALUES, max_size=4) | st.booleans(),
        lambda inner: st.dictionaries(
            KEYS, inner | VALUES | st.dictionaries(st.text(max_size=3), inner, max_size=3), max_size=4
        ),
        max_leaves=12,
    )


NEAR_VALUES = {  # mostly what the meta-schema wants, with the near misses a YAML file produces
    "type": st.sampled_from(["object", "string", "strin", ["string", "null"], ["string", "string"], [], 1]),
    "required": st.lists(st.sampled_from(["a", "b", 1, True]), max_size=3),
    "minimum": st.sampled_from([0, 1.5, -2, True, "1", None]),
    "minLength": st.sampled_from([0, 3, -1, 2.0, True, "2"]),
    "enum": st.sampled_from([[], ["a"], [1, 1], "a", None]),
    "uniqueItems": st.sampled_from([True, False, 0, "yes"]),
    "description": st.sampled_from(["a city", 3, None]),
}


def near_schemas() -> st.SearchStrategy[Any]:
    leaf = st.fixed_dictionaries({}, optional=NEAR_VALUES)
    return st.recursive(
        leaf,
        lambda inner: st.fixed_dictionaries({}, optional={
            **NEAR_VALUES,
            "properties": st.dictionaries(st.sampled_from(["a", "b", "c"]), inner | st.booleans(), max_size=3),
            "items": inner | st.booleans() | st.just([]),
            "additionalProperties": inner | st.booleans() | st.just(1),
        }),
        max_leaves=8,
    )


def jsonschema_accepts(schema: Any) -> bool:
    try:
        validators.Draft202012Validator.check_schema(schema)
    except exceptions.SchemaError:
        return False
    return True


@settings(max_examples=1500, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(schemas() | near_schemas())
def test_what_it_calls_valid_jsonschema_calls_valid(schema: Any) -> None:
    if plainly_valid(schema):
        assert jsonschema_accepts(schema), schema


def test_the_usual_tool_schemas_need_no_jsonschema() -> None:
    assert plainly_valid({"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]})
    assert plainly_valid({
        "type": "object",
        "properties": {
            "minutes": {"type": "integer", "minimum": 1, "maximum": 120, "description": "how long"},
            "unit": {"type": "string", "enum": ["s", "min"], "default": "min"},
            "tags": {"type": "array", "items": {"type": "string"}, "uniqueItems": True},
        },
        "additionalProperties": False,
    })


def test_doubtful_schemas_go_to_jsonschema() -> None:
    assert not plainly_valid({"type": "object", "properties": {"c": {"type": "strin"}}})
    assert not plainly_valid({"type": "object", "required": ["a", "a"]})
    assert not plainly_valid({"type": "object", "properties": {"c": {"pattern": "["}}})
    assert not plainly_valid({"type": "object", "properties": {"c": {"minLength": True}}})
    assert not plainly_valid({"type": "object", "nullable": True})
    looped: dict[str, Any] = {"type": "object"}
    looped["properties"] = {"self": looped}
    assert not plainly_valid(looped)
