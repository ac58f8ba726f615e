"""Structure-aware fuzzing of agent files: each shipped example agent with exactly one mutation.

Whatever the mutation — a value replaced by another type, a key deleted or invented, a secret reference, a
YAML tag or alias, a cut at any byte, a duplicated line — `load_agent` either loads the file or raises
`ConfigErrors` whose every error is located inside that file; it never crashes and never echoes a secret.
"""

from __future__ import annotations

import copy
import itertools
import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import runtime.agentfile.loader as loader
from tests.security.server_messages import json_values, paths

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = sorted((ROOT / "agents").glob("*.yaml"))
CANARY = "canary-fuzz-s3cret-9d1e"
_counter = itertools.count()


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the example agents (with their tool modules) and a secrets directory holding the canary."""
    directory = tmp_path_factory.mktemp("agent-fuzz")
    for path in (ROOT / "agents").iterdir():
        if path.is_file():
            shutil.copy(path, directory / path.name)
    (directory / "token").write_text(CANARY)
    return directory


def examples() -> list[dict[str, Any]]:
    return [yaml.safe_load(path.read_text()) for path in EXAMPLES]


STRUCTURAL = ["replace", "delete", "unknown_key", "secret", "env", "wrong_type"]
TEXTUAL = ["truncate", "tag", "alias", "duplicate_line", "tab_indent", "control_char"]


@st.composite
def mutated_agent_files(draw: st.DrawFn) -> tuple[str, str]:
    """(mutation kind, file text) for one example agent with one mutation."""
    document = copy.deepcopy(draw(st.sampled_from(examples())))
    kind = draw(st.sampled_from(STRUCTURAL + TEXTUAL))
    if kind in STRUCTURAL:
        _mutate_structure(draw, document, kind)
        return kind, yaml.safe_dump(document, sort_keys=False)
    return kind, _mutate_text(draw, yaml.safe_dump(document, sort_keys=False), kind)


def _node(document: Any, path: tuple[Any, ...]) -> Any:
    for key in path:
        document = document[key]
    return document


def _mutate_structure(draw: st.DrawFn, document: dict[str, Any], kind: str) -> None:
    path = draw(st.sampled_from(paths(document)))
    parent, key = _node(document, path[:-1]), path[-1]
    if kind == "replace":
        parent[key] = draw(json_values)
    elif kind == "delete":
        del parent[key]
    elif kind == "unknown_key":
        target = parent if isinstance(parent, dict) else document
        target[draw(st.from_regex(r"[a-z_]{1,12}", fullmatch=True))] = draw(json_values)
    elif kind == "secret":
        parent[key] = draw(st.sampled_from(["${secret:token}", "x${secret:token}y", "${secret:missing}", "${secret:}"]))
    elif kind == "env":
        parent[key] = draw(st.sampled_from(["${env:HOME}", "${env:NOPE_NOT_SET}", "${env:1bad}", "${nope:x}", "$${x}"]))
    else:  # wrong_type: the same value wrapped or flattened
        value = parent[key]
        parent[key] = [value] if not isinstance(value, list) else {"x": value}


def _mutate_text(draw: st.DrawFn, text: str, kind: str) -> str:
    lines = text.splitlines(keepends=True)
    index = draw(st.integers(0, max(len(lines) - 1, 0)))
    if kind == "truncate":
        return text[: draw(st.integers(0, len(text)))]
    if kind == "tag":
        tag = draw(
            st.sampled_from(["!!python/object/apply:os.system ['true']", "!!binary aGk=", "!custom x", "!!set {}"])
        )
        return text.replace(": ", f": {tag} #", 1) if draw(st.booleans()) else text + f"extra: {tag}\n"
    if kind == "alias":
        return "anchor: &a {x: 1}\n" + text + "again: *a\n"
    if kind == "duplicate_line":
        return "".join([*lines[: index + 1], lines[index] if lines else "", *lines[index + 1 :]])
    if kind == "tab_indent":
        return text.replace("  ", "\t", 1)
    return text[:index] + draw(st.sampled_from(["\x00", "\x07", "\ufeff", "\u2028", "\x1b[31m"])) + text[index:]


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(mutation=mutated_agent_files())
def test_a_mutated_example_agent_loads_or_fails_with_located_errors(workdir: Path, mutation: tuple[str, str]) -> None:
    kind, text = mutation
    path = workdir / f"mutant-{next(_counter)}.yaml"
    path.write_text(text, encoding="utf-8", errors="surrogatepass")
    line_count = text.count("\n") + 1
    try:
        loader.load_agent(path, secrets_dir=workdir)
    except loader.ConfigErrors as failure:
        assert failure.errors, kind
        for error in failure.errors:
            assert error.location.path == str(path), (kind, error.render())
            assert 1 <= error.location.line <= line_count + 1, (kind, error.render(), text)
            assert CANARY not in error.render(), (kind, error.render())
    finally:
        path.unlink()


def test_every_example_agent_loads_unmutated(workdir: Path) -> None:
    assert EXAMPLES
    for example in EXAMPLES:
        loader.load_agent(workdir / example.name, secrets_dir=workdir)
