"""Whatever bytes or structures a file holds, the loader answers with its own located error type, never a crash."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from runtime.agentfile.loader import ConfigErrors, LoadedAgent, load_agent
from runtime.agentfile.spec_errors import model_at
from runtime.errors import RuntimeConfigError

YAMLISH = st.text(alphabet=st.sampled_from(list("abcmodel:_- \n\t[]{},'\"!&*#|>%@`?~0123.\\$")), max_size=200)
KEYS = [
    "model",
    "name",
    "voice",
    "activity",
    "tools",
    "generation",
    "session",
    "http",
    "url",
    "python",
    "mode",
    "temperature",
    "response",
    "context",
    "compression",
    "trigger_tokens",
    "description",
    "parameters",
    "zz",
]
SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(10**6), 10**6),
    st.floats(allow_nan=False),
    st.text(max_size=20),
    st.sampled_from(["gemini-3.8-live", "audio", "text", "server", "m:f", "http://x/{a}", "${env:X}"]),
)
STRUCTURES = st.recursive(
    SCALARS,
    lambda children: st.one_of(
        st.lists(children, max_size=4), st.dictionaries(st.sampled_from(KEYS), children, max_size=5)
    ),
    max_leaves=25,
)
SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


def load_text(text: str | bytes) -> LoadedAgent | None:
    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory) / "agent.yaml"
        if isinstance(text, bytes):
            path.write_bytes(text)
        else:
            path.write_text(text, encoding="utf-8", errors="surrogatepass")
        try:
            return load_agent(path, secrets_dir=Path(directory))
        except ConfigErrors as failure:
            assert failure.errors
            for error in failure.errors:
                assert isinstance(error, RuntimeConfigError)
                assert error.location.path == str(path)
                assert error.location.line >= 1 or error.message.startswith(("cannot read", "the file is larger"))
                assert error.render().startswith(f"{path}:")
            return None


@SETTINGS
@given(YAMLISH)
def test_random_yaml_text_never_crashes_the_loader(text: str) -> None:
    load_text(text)


@SETTINGS
@given(st.binary(max_size=200))
def test_random_bytes_never_crash_the_loader(raw: bytes) -> None:
    load_text(raw)


@SETTINGS
@given(STRUCTURES)
def test_random_structures_never_crash_the_loader(data: Any) -> None:
    load_text(yaml.safe_dump(data))


@SETTINGS
@given(st.dictionaries(st.sampled_from(KEYS), STRUCTURES, max_size=6))
def test_random_agent_like_mappings_never_crash_the_loader(data: dict[str, Any]) -> None:
    load_text(yaml.safe_dump({"model": "gemini-3.8-live", **data}))


@SETTINGS
@given(st.lists(st.sampled_from([*KEYS, 0, 1]), max_size=6))
def test_model_lookup_never_crashes(path: list[str | int]) -> None:
    model_at(path)


TOOL_VALUES = st.one_of(
    SCALARS,
    st.sampled_from(["http://[::1", "http://h/{", "http://h/{a}{b.c}{0}", "https://169.254.1.1/", "file:x", "{a:{b}}"]),
    st.dictionaries(st.sampled_from(["type", "properties", "required", "items"]), SCALARS | st.just("object")),
)
TOOLS = st.lists(
    st.dictionaries(
        st.sampled_from(["name", "description", "python", "http", "parameters", "behavior", "scheduling"]),
        TOOL_VALUES | st.dictionaries(st.sampled_from(["url", "method", "body", "headers"]), TOOL_VALUES, max_size=3),
        max_size=5,
    ),
    max_size=3,
)


@SETTINGS
@given(TOOLS)
def test_random_tools_never_crash_the_checks(tools: list[dict[str, Any]]) -> None:
    load_text(yaml.safe_dump({"model": "gemini-3.8-live", "tools": tools}))


@SETTINGS
@given(st.text(alphabet=st.sampled_from(list("{}ab:!0.")), max_size=12))
def test_random_url_templates_never_crash_the_checks(template: str) -> None:
    tool = {"name": "t", "description": "d", "http": {"url": "http://h/" + template, "body": template}}
    load_text(yaml.safe_dump({"model": "gemini-3.8-live", "tools": [tool]}))
