"""Python tools: entry points resolve beside the agent file first, and type hints become JSON Schema."""

from __future__ import annotations

import enum
import os
from pathlib import Path
from typing import Annotated, Literal, Optional

import pytest

from runtime.agentfile.checks import derive_parameters, resolve_entry_point
from runtime.agentfile.entrypoints import EntryPointError
from runtime.agentfile.loader import load_agent
from tests.foundation.helpers import MODEL, only_error, position, write

TOOL = f"model: {MODEL}\ntools:\n  - name: t\n    python: {{entry}}\n"


def agent_with_tool(directory: Path, entry: str, module: str | None = None, source: str = "") -> Path:
    if module is not None:
        (directory / f"{module}.py").write_text(source)
    return write(directory, TOOL.replace("{entry}", entry))


def test_module_beside_the_agent_file_is_used(tmp_path: Path) -> None:
    path = agent_with_tool(
        tmp_path, "lights:switch", "lights", "def switch(on: bool) -> str:\n    'Switch.'\n    return 'ok'\n"
    )
    tool = load_agent(path).spec.tools[0]
    assert tool.parameters == {"type": "object", "properties": {"on": {"type": "boolean"}}, "required": ["on"]}
    assert tool.description == "Switch."


def test_installed_module_is_the_fallback(tmp_path: Path) -> None:
    func = resolve_entry_point("textwrap:dedent", tmp_path)
    assert func("  x") == "x"


def test_two_directories_with_the_same_module_name_do_not_mix(tmp_path: Path) -> None:
    for name in ("a", "b"):
        (tmp_path / name).mkdir()
        (tmp_path / name / "tools.py").write_text(f"def who() -> str:\n    return {name!r}\n")
    assert resolve_entry_point("tools:who", tmp_path / "a")() == "a"
    assert resolve_entry_point("tools:who", tmp_path / "b")() == "b"


def test_edited_module_is_loaded_again(tmp_path: Path) -> None:
    module = tmp_path / "edited.py"
    module.write_text("def value() -> int:\n    return 1\n")
    assert resolve_entry_point("edited:value", tmp_path)() == 1
    module.write_text("def value() -> int:\n    return 22\n")
    stat = module.stat()
    os.utime(module, ns=(stat.st_atime_ns, stat.st_mtime_ns + 10_000_000))
    assert resolve_entry_point("edited:value", tmp_path)() == 22


def tool_package(directory: Path, value: str) -> Path:
    """`tools/`, a package whose `__init__` and `lights` import their sibling `helpers` relatively."""
    package = directory / "tools"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text("from .helpers import VALUE\n\n\ndef who() -> str:\n    return VALUE\n")
    (package / "helpers.py").write_text(f"VALUE = {value!r}\n")
    (package / "lights.py").write_text(
        "from . import helpers\n\n\ndef on() -> str:\n    return 'on ' + helpers.VALUE\n"
    )
    return package


def test_two_directories_with_the_same_package_name_do_not_mix(tmp_path: Path) -> None:
    for name in ("a", "b"):
        tool_package(tmp_path / name, name)
    assert resolve_entry_point("tools:who", tmp_path / "a")() == "a"
    assert resolve_entry_point("tools:who", tmp_path / "b")() == "b"
    assert resolve_entry_point("tools.lights:on", tmp_path / "b")() == "on b"
    assert resolve_entry_point("tools.lights:on", tmp_path / "a")() == "on a"


def test_an_edited_package_is_loaded_again_whichever_of_its_files_changed(tmp_path: Path) -> None:
    helpers = tool_package(tmp_path, "old") / "helpers.py"
    assert resolve_entry_point("tools:who", tmp_path)() == "old"
    helpers.write_text("VALUE = 'new'\n")
    stat = helpers.stat()
    os.utime(helpers, ns=(stat.st_atime_ns, stat.st_mtime_ns + 10_000_000))
    assert resolve_entry_point("tools:who", tmp_path)() == "new"
    assert resolve_entry_point("tools.lights:on", tmp_path)() == "on new"


def test_a_missing_submodule_of_a_package_is_named_as_written(tmp_path: Path) -> None:
    tool_package(tmp_path, "x")
    with pytest.raises(EntryPointError) as caught:
        resolve_entry_point("tools.nope:f", tmp_path)
    assert (caught.value.message, caught.value.hint) == (
        "module `tools.nope` not found", "put `nope.py` in the package `tools/`"
    )


def test_module_beside_can_import_its_sibling(tmp_path: Path) -> None:
    (tmp_path / "helper_mod_x1.py").write_text("VALUE = 5\n")
    (tmp_path / "main_mod_x1.py").write_text("from helper_mod_x1 import VALUE\ndef get() -> int:\n    return VALUE\n")
    assert resolve_entry_point("main_mod_x1:get", tmp_path)() == 5


@pytest.mark.parametrize(
    ("entry", "module", "source", "message"),
    [
        ("nowhere_at_all:f", None, "", "module `nowhere_at_all` not found"),
        ("toolsmod:missing", "toolsmod", "def present() -> None: ...\n", "`toolsmod` has no attribute `missing`"),
        ("toolsmod:VALUE", "toolsmod", "VALUE = 3\n", "`toolsmod:VALUE` is not callable"),
        ("toolsmod:f", "toolsmod", "raise RuntimeError('boom')\n", "importing `toolsmod` failed: RuntimeError: boom"),
        ("toolsmod:f", "toolsmod", "import not_installed_zz\n", "importing `toolsmod` failed: ModuleNotFoundError"),
        ("toolsmod:f", "toolsmod", "def f(x):\n    pass\n", "parameter `x` of `f` has no type hint"),
        ("toolsmod:f", "toolsmod", "def f(*args: int) -> None: ...\n", "takes any number of arguments"),
        ("toolsmod:f", "toolsmod", "def f(x: int | str) -> None: ...\n", "union of several types"),
        ("toolsmod:f", "toolsmod", "def f(x: object) -> None: ...\n", "cannot be described as JSON"),
        ("toolsmod:f", "toolsmod", "import sys\nsys.exit(3)\n", "importing `toolsmod` failed: SystemExit: 3"),
    ],
)
def test_bad_python_tool_is_located_at_its_entry_point(
    tmp_path: Path, entry: str, module: str | None, source: str, message: str
) -> None:
    error = only_error(agent_with_tool(tmp_path, entry, module, source))
    assert position(error) == "4:13"
    assert message in error.message, error.render()


def test_misspelt_function_gets_a_hint(tmp_path: Path) -> None:
    error = only_error(agent_with_tool(tmp_path, "toolsmod:set_timr", "toolsmod", "def set_timer() -> None: ...\n"))
    assert error.hint == "did you mean `toolsmod:set_timer`?"


def test_explicit_parameters_skip_derivation(tmp_path: Path) -> None:
    (tmp_path / "loose.py").write_text("def f(**kwargs):\n    return kwargs\n")
    path = write(
        tmp_path,
        f"model: {MODEL}\ntools:\n  - name: t\n    description: d\n    python: loose:f\n"
        "    parameters: {type: object, properties: {a: {type: string}}}\n",
    )
    assert load_agent(path).spec.tools[0].parameters == {"type": "object", "properties": {"a": {"type": "string"}}}


class Colour(enum.Enum):
    RED = "red"
    GREEN = "green"


def rich(
    name: str,
    count: int,
    ratio: float,
    loud: bool,
    tags: list[str],
    extra: dict[str, int],
    mode: Literal["fast", "slow"],
    colour: Colour,
    note: Annotated[str, "A short note."],
    maybe: Optional[int] = None,  # noqa: UP045 - the old spelling must work too
    later: int | None = None,
    level: int = 3,
) -> None:
    """Do everything.

    A longer explanation that is not part of the description.

    Args:
        name: Who it is for.
        count: How many,
            counted twice.
    """


def test_type_hints_become_json_schema() -> None:
    assert derive_parameters(rich) == {
        "type": "object",
        "properties": {
            "name": {"type": "string", "description": "Who it is for."},
            "count": {"type": "integer", "description": "How many, counted twice."},
            "ratio": {"type": "number"},
            "loud": {"type": "boolean"},
            "tags": {"type": "array", "items": {"type": "string"}},
            "extra": {"type": "object"},
            "mode": {"type": "string", "enum": ["fast", "slow"]},
            "colour": {"type": "string", "enum": ["red", "green"]},
            "note": {"type": "string", "description": "A short note."},
            "maybe": {"type": "integer", "nullable": True},
            "later": {"type": "integer", "nullable": True},
            "level": {"type": "integer"},
        },
        "required": ["name", "count", "ratio", "loud", "tags", "extra", "mode", "colour", "note"],
    }


def test_function_without_parameters() -> None:
    def ping() -> str:
        return "pong"

    assert derive_parameters(ping) == {"type": "object", "properties": {}}


def test_callable_object_is_described_by_its_call() -> None:
    class Counter:
        def __call__(self, step: int = 1) -> int:
            return step

    assert derive_parameters(Counter()) == {"type": "object", "properties": {"step": {"type": "integer"}}}


def test_entry_point_error_is_a_runtime_error() -> None:
    with pytest.raises(EntryPointError):
        resolve_entry_point("no_module_here_q:f", Path("/nonexistent"))


def test_what_a_tool_module_prints_on_import_stays_off_stdout(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "chatty_mod.py").write_text("print('hello from import')\ndef f() -> None: ...\n")
    resolve_entry_point("chatty_mod:f", tmp_path)
    captured = capsys.readouterr()
    assert captured.out == ""
    assert "hello from import" in captured.err


def test_import_failure_names_the_line(tmp_path: Path) -> None:
    error = only_error(agent_with_tool(tmp_path, "toolsmod:f", "toolsmod", "x = 1\ny = 1 / 0\n"))
    assert error.message == "importing `toolsmod` failed: ZeroDivisionError: division by zero (toolsmod.py:2)"
