"""Hostile agent files (YAML bombs) are refused with located errors and bounded memory.

Memory is measured with tracemalloc and printed; the tests assert on memory, never on time (times are
printed only). `runtime.agentfile.loader.load_agent` (issue 3) implements the refusals.
"""

from __future__ import annotations

import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path

import pytest

import runtime.agentfile.loader as loader

MODEL_LINE = "model: gemini-3.8-live\n"
PEAK_LIMIT_BYTES = 16 * 2**20
"""What refusing a bomb may cost at most; a Raspberry Pi Zero 2 W has 512 MiB for everything."""
MAX_FILE_PEAK_BYTES = 64 * 2**20
"""What loading (or refusing) any file up to the loader's size limit may cost at most."""


def billion_laughs(levels: int = 9) -> str:
    lines = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for level in range(1, levels):
        name, previous = f"l{level}", "a" if level == 1 else f"l{level - 1}"
        lines.append(f"{name}: &{name} [" + ",".join([f"*{previous}"] * 9) + "]")
    return MODEL_LINE + "\n".join(lines) + "\n"


BOMBS: dict[str, Callable[[], str]] = {
    "billion_laughs": billion_laughs,
    "merge_key_laughs": lambda: MODEL_LINE + "base: &b {x: 1}\ngeneration: {<<: *b}\n",
    "flow_list_10k_deep": lambda: MODEL_LINE + "generation: " + "[" * 10_000 + "]" * 10_000 + "\n",
    "flow_map_10k_deep": lambda: MODEL_LINE + "generation: " + "{a: " * 10_000 + "1" + "}" * 10_000 + "\n",
    "block_list_10k_deep": lambda: MODEL_LINE + "generation:\n  " + "- " * 10_000 + "1\n",
    "block_map_1k_deep": lambda: MODEL_LINE + "x:\n" + "".join(" " * (i + 1) + f"k{i}:\n" for i in range(1_000)),
    "python_object_tag": lambda: "model: !!python/object/apply:os.system ['echo pwned']\n",
    "custom_tag": lambda: MODEL_LINE + "instructions: !include /etc/shadow\n",
}


def measure(path: Path) -> tuple[int, list[object], float]:
    """(peak bytes, errors, seconds) of loading one file."""
    tracemalloc.start()
    started = time.perf_counter()
    errors: list[object] = []
    try:
        loader.load_agent(path, secrets_dir=path.parent)
    except loader.ConfigErrors as failure:
        errors = list(failure.errors)
    finally:
        elapsed_s = time.perf_counter() - started
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
    return peak, errors, elapsed_s


@pytest.mark.parametrize("bomb", sorted(BOMBS))
def test_a_yaml_bomb_is_refused_with_a_located_error_and_bounded_memory(tmp_path: Path, bomb: str) -> None:
    path = tmp_path / f"{bomb}.yaml"
    path.write_text(BOMBS[bomb]())
    peak, errors, elapsed_s = measure(path)
    print(
        f"\n{bomb}: {path.stat().st_size} bytes, peak {peak / 2**20:.2f} MiB, {elapsed_s:.2f} s, {len(errors)} errors"
    )
    assert errors, f"{bomb} was accepted"
    first = errors[0]
    assert first.location.line > 0, first.render()  # type: ignore[attr-defined]
    assert peak < PEAK_LIMIT_BYTES


def test_a_huge_file_is_refused_without_being_read(tmp_path: Path) -> None:
    path = tmp_path / "huge.yaml"
    with path.open("wb") as file:
        file.truncate(512 * 2**20)  # sparse: costs no disk
    peak, errors, elapsed_s = measure(path)
    print(f"\nhuge: {path.stat().st_size} bytes, peak {peak / 2**20:.2f} MiB, {elapsed_s:.3f} s")
    assert errors and "larger than" in errors[0].message  # type: ignore[attr-defined]
    assert peak < 2 * loader.MAX_FILE_BYTES + 2**20


MANY_NODES: dict[str, Callable[[], str]] = {
    "list_items": lambda: MODEL_LINE + "instructions: [" + ",".join(["1"] * 50_000) + "]\n",
    "unknown_keys": lambda: MODEL_LINE + "".join(f"k{i}: v\n" for i in range(10_000)),
}


@pytest.mark.parametrize("case", sorted(MANY_NODES))
def test_a_file_of_many_small_nodes_costs_bounded_memory(tmp_path: Path, case: str) -> None:
    """A tenth of the size limit, made of the smallest nodes YAML allows: memory must not grow with node count."""
    path = tmp_path / f"{case}.yaml"
    path.write_text(MANY_NODES[case]())
    peak, errors, elapsed_s = measure(path)
    size = path.stat().st_size
    print(f"\n{case}: {size} bytes -> peak {peak / 2**20:.1f} MiB ({peak / size:.0f} B per file byte)")
    print(f"{case}: {len(errors)} errors in {elapsed_s:.2f} s")
    assert errors
    assert peak < PEAK_LIMIT_BYTES
