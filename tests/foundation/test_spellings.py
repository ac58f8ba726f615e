"""Spellings users write that mean something obvious are accepted, in the loader and in the JSON Schema alike.

`device: null` (the docs' own spelling), `compression: false` (a switch written as a switch) and a tool with
two implementations (reported where the second one is written) — each checked through `load_agent`, through
the schema an editor reads, and through `runtime validate` as a user runs it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from jsonschema import Draft202012Validator
from pydantic import BaseModel

from runtime.agentfile.loader import load_agent
from runtime.agentfile.spec import NULL_DEVICE, AgentSpec, json_schema
from runtime.audio.factory import open_ports
from runtime.audio.files import NullIn, NullOut
from tests.foundation.helpers import MODEL, only_error, position, write
from tests.foundation.test_cli_validate import runtime

M = f"model: {MODEL}\n"


def schema_errors(text: str) -> list[str]:
    """What an editor would flag in this agent file (the committed schema's draft 2020-12 validator)."""
    validator = Draft202012Validator(json_schema())
    return [error.message for error in validator.iter_errors(yaml.safe_load(text))]


@pytest.mark.parametrize("spelling", ["null", "~", "", '"null"'])
@pytest.mark.parametrize("port", ["input", "output"])
def test_a_null_device_means_no_device(tmp_path: Path, port: str, spelling: str) -> None:
    text = M + f"audio:\n  {port}:\n    device: {spelling}\n"
    spec = load_agent(write(tmp_path, text)).spec
    assert getattr(spec.audio, port).device == NULL_DEVICE
    assert schema_errors(text) == []


def test_null_devices_are_the_null_ports(tmp_path: Path) -> None:
    spec = load_agent(write(tmp_path, M + "audio: {input: {device: null}, output: {device: null}}\n")).spec
    mic, speaker = open_ports(spec.audio, base_dir=tmp_path)
    assert isinstance(mic, NullIn) and isinstance(speaker, NullOut)


@pytest.mark.parametrize("value", ["[1, 2]", "2.5", "true", "{name: x}"])
def test_a_wrong_device_says_which_forms_are_accepted(tmp_path: Path, value: str) -> None:
    error = only_error(write(tmp_path, M + f"audio:\n  output:\n    device: {value}\n"))
    assert position(error) == "4:13", error.render()
    assert "`audio.output.device`" in error.message
    for form in ("name", "index", "`default`", "`file:PATH.wav`", "`null`"):
        assert form in error.hint, error.render()


def switchable_sections() -> list[tuple[tuple[str, ...], type[BaseModel]]]:
    """Every section of the agent file with an `enabled` switch, and where it sits."""
    found: list[tuple[tuple[str, ...], type[BaseModel]]] = []

    def walk(model: type[BaseModel], path: tuple[str, ...]) -> None:
        for name, field in model.model_fields.items():
            nested = field.annotation
            if isinstance(nested, type) and issubclass(nested, BaseModel):
                if "enabled" in nested.model_fields:
                    found.append(((*path, name), nested))
                walk(nested, (*path, name))

    walk(AgentSpec, ())
    return found


def test_the_switchable_sections_are_found() -> None:
    assert [path for path, _ in switchable_sections()] == [("context", "compression")]


@pytest.mark.parametrize("switch", [False, True])
@pytest.mark.parametrize(
    ("path", "section"), switchable_sections(), ids=lambda v: ".".join(v) if isinstance(v, tuple) else v.__name__
)
def test_a_switch_can_be_written_as_a_boolean(
    tmp_path: Path, path: tuple[str, ...], section: type[BaseModel], switch: bool
) -> None:
    value: Any = switch
    for key in reversed(path):
        value = {key: value}
    text = M + yaml.safe_dump(value, default_flow_style=None)
    spec: Any = load_agent(write(tmp_path, text)).spec
    for key in path:
        spec = getattr(spec, key)
    assert spec == section(enabled=switch)
    assert schema_errors(text) == []


def test_compression_false_warns_at_the_false(tmp_path: Path) -> None:
    agent = load_agent(write(tmp_path, M + "context:\n  compression: false\n"))
    assert [(position(w), w.message[:30]) for w in agent.warnings] == [("3:16", "without compression an audio s")]


def test_a_switch_written_as_a_word_shows_both_spellings(tmp_path: Path) -> None:
    error = only_error(write(tmp_path, M + "context:\n  compression: off\n"))
    assert position(error) == "3:16"
    assert "`compression: false`" in error.hint and "`{enabled: false}`" in error.hint, error.render()


@pytest.mark.parametrize(
    ("text", "where"),
    [
        ("tools:\n  - name: t\n    python: m:f\n    http: {url: 'http://x/'}\n", "5:5"),
        ("tools:\n  - name: t\n    http: {url: 'http://x/'}\n    description: d\n    python: m:f\n", "6:5"),
        ("tools:\n  - {name: t, python: 'm:f', http: {url: 'http://x/'}}\n", "3:30"),
    ],
    ids=["http-second", "python-second", "flow"],
)
def test_a_tool_with_two_implementations_is_reported_at_the_second(tmp_path: Path, text: str, where: str) -> None:
    error = only_error(write(tmp_path, M + text))
    assert position(error) == where, error.render()
    assert "both `python` and `http`" in error.message
    assert "two tools" in error.hint


def test_validate_prints_each_of_them_located_with_a_hint(tmp_path: Path) -> None:
    """End to end, as a user sees it: the new spellings pass, the wrong ones are located and explained."""
    good = write(tmp_path, M + "audio: {output: {device: null}}\ncontext: {compression: true}\n", "good.yaml")
    device = write(tmp_path, M + "audio:\n  output:\n    device: [1]\n", "device.yaml")
    switch = write(tmp_path, M + "context:\n  compression: off\n", "switch.yaml")
    tool = write(tmp_path, M + "tools:\n  - name: t\n    python: m:f\n    http: {url: 'http://x/'}\n", "tool.yaml")
    result = runtime("validate", good, device, switch, tool)
    assert result.returncode == 1, result.stderr
    lines = result.stdout.splitlines()
    assert str(good) not in result.stdout
    assert lines == [
        f"{device}:4:13: error: `audio.output.device` should be a valid string or integer, or null",
        "  hint: a device name substring, a PortAudio index, `default`, `file:PATH.wav` (write the reply to a WAV "
        "file), or `null` (no speaker: the reply is discarded)",
        f"{switch}:3:16: error: `context.compression` must be a mapping of keys (`key: value` lines) or a switch",
        "  hint: switch it with `compression: false` (or `true`), or write `{enabled: false}` with other keys",
        f"{tool}:5:5: error: a tool has both `python` and `http`; it needs exactly one of them",
        "  hint: keep one, or split it into two tools with names of their own",
    ]
