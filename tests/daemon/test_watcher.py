"""The directory watcher without specs: one batch per burst of edits, editor droppings left out."""

from __future__ import annotations

import os
from pathlib import Path

import anyio
import pytest

from runtime.daemon.reload import watch_changes

pytestmark = [pytest.mark.anyio, pytest.mark.timeout(30)]


async def test_a_rename_save_in_several_steps_is_one_batch_of_relevant_paths(tmp_path: Path) -> None:
    batches: list[set[str]] = []
    arrived = anyio.Event()
    stop = anyio.Event()

    async def collect() -> None:
        nonlocal arrived
        async for paths in watch_changes(tmp_path, stop=stop):
            batches.append({Path(p).name for p in paths})
            arrived.set()

    async with anyio.create_task_group() as tg:
        tg.start_soon(collect)
        with anyio.fail_after(10):  # the watcher starts asynchronously: touch a probe until it is seen
            while not arrived.is_set():
                (tmp_path / "probe.yaml").write_text("x")
                with anyio.move_on_after(0.1):
                    await arrived.wait()
        batches.clear()
        arrived = anyio.Event()

        agent = tmp_path / "kitchen.yaml"
        (tmp_path / ".kitchen.yaml.swp").write_text("swap")
        (tmp_path / "4913").write_text("")
        temporary = tmp_path / ".kitchen.yaml.tmp"
        temporary.write_text("model: a\n")
        with temporary.open("a") as partial:
            partial.write("instructions: b\n")
        os.replace(temporary, agent)
        (tmp_path / "kitchen_tools.py").write_text("x = 1\n")
        with anyio.fail_after(5):
            await arrived.wait()
        with anyio.move_on_after(0.5):
            while len(batches) < 2:
                await anyio.sleep(0.05)
        stop.set()
    late_probes = {"probe.yaml"}  # a probe written just before the watcher answered may still arrive
    assert [names - late_probes for names in batches if names - late_probes] == [{"kitchen.yaml", "kitchen_tools.py"}]
