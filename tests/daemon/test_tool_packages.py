"""Tool packages (`tools/__init__.py`) under the daemon, with the real pieces: loader, directory reader, reload,
sessions, google-genai and the emulator, whose scenario calls the tool whenever it hears speech.

An edited package runs its new code after the reload; two agents' same-named packages stay apart in one
process; a package file other users could change is refused on reload like a module file.
"""

from __future__ import annotations

import functools
import os
import wave
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import anyio
import numpy as np
import pytest

from runtime.agentfile.loader import load_agent
from runtime.daemon.agentdir import read_directory
from runtime.daemon.app import SessionFactory
from runtime.daemon.daemon import Daemon, DaemonSettings
from runtime.daemon.systemd import Notifier
from runtime.emulator import EmulatorOptions, serve
from runtime.live.endpoint import Endpoint
from runtime.live.events import NullEvents
from tests.daemon.harness import MODEL

pytestmark = [pytest.mark.anyio, pytest.mark.timeout(90)]

SCENARIO = """\
speech_transcripts: [{turns}]
rules:
  - when: {{text: mark}}
    then:
      - tool_call: {{name: mark, args: {{}}}}
      - say: "Marked."
""".format(turns=", ".join(["mark it"] * 20))

AGENT = f"""\
name: {{name}}
model: {MODEL}
instructions: Call mark when asked.
audio:
  input: {{{{device: 'file:speech.wav'}}}}
  output: {{{{device: 'file:{{name}}-out.wav'}}}}
tools:
  - name: mark
    python: tools:mark
"""

INIT = '''\
from pathlib import Path

from .version import VERSION


def mark() -> dict[str, str]:
    """Note which code ran."""
    with Path({marks!r}).open("a") as marks:
        marks.write(VERSION + "\\n")
    return {{"version": VERSION}}
'''


@pytest.fixture(autouse=True, scope="module")
def sdk_imported() -> None:
    """Import google-genai before the clock runs: on a loaded machine its cold import alone takes seconds."""
    import google.genai  # noqa: F401


def write_speech(path: Path, seconds: float = 1.0) -> None:
    """Noise loud enough for the emulator's voice activity detection, then the WAV input's endless silence."""
    samples = (np.random.default_rng(1).standard_normal(int(16000 * seconds)) * 3000).astype("<i2")
    with wave.open(str(path), "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(16000)
        wav.writeframes(samples.tobytes())


def agents_dir(directory: Path, name: str, version: str, marks: Path) -> Path:
    """An agents directory with one agent whose `mark` tool, from the package `tools/`, notes `version`."""
    package = directory / "tools"
    package.mkdir(parents=True, mode=0o755)
    (package / "__init__.py").write_text(INIT.format(marks=str(marks)))
    set_version(directory, version)
    write_speech(directory / "speech.wav")
    (directory / f"{name}.yaml").write_text(AGENT.format(name=name))
    return directory


def set_version(directory: Path, version: str) -> None:
    module = directory / "tools" / "version.py"
    before = module.stat().st_mtime_ns if module.exists() else 0
    module.write_text(f"VERSION = {version!r}\n")
    if module.stat().st_mtime_ns <= before:  # a coarse clock: the edit must still be a new version
        os.utime(module, ns=(before + 10_000_000, before + 10_000_000))


async def marked(marks: Path, version: str, timeout_s: float = 30.0) -> None:
    """Wait until the tool has run as `version` (it appends a line per call)."""
    with anyio.fail_after(timeout_s):
        while not (marks.exists() and version in marks.read_text().split()):
            await anyio.sleep(0.05)


@asynccontextmanager
async def emulator(tmp_path: Path) -> AsyncIterator[Endpoint]:
    scenario = tmp_path / "scenario.yaml"
    scenario.write_text(SCENARIO)
    async with serve(EmulatorOptions(scenario=scenario)) as running:
        yield Endpoint(base_url=running.base_url, ca_file=running.ca_file, api_key="test-key")


def daemon_for(agents: Path, endpoint: Endpoint, state_dir: Path) -> Daemon:
    """The daemon as `runtime run` builds it, minus the watcher: the test reloads it as the watcher would."""
    read = functools.partial(read_directory, agents, load_agent)
    factory = SessionFactory(endpoint, state_dir, NullEvents())
    return Daemon(agents, read, factory, Notifier(None), DaemonSettings(watch=False))  # type: ignore[arg-type]


async def test_an_edited_tool_package_runs_its_new_code_after_the_reload(tmp_path: Path) -> None:
    marks = tmp_path / "marks.txt"
    agents = agents_dir(tmp_path / "agents", "kitchen", "v1", marks)
    async with emulator(tmp_path) as endpoint:
        daemon = daemon_for(agents, endpoint, tmp_path)
        async with anyio.create_task_group() as tg:
            await tg.start(daemon.run)
            await marked(marks, "v1")
            set_version(agents, "v2")
            plan = await daemon.reload("changed: version.py")
            assert plan.restart == ("kitchen",), "a package module is part of the agent's fingerprint"
            await marked(marks, "v2")
            daemon.stop()


async def test_two_agents_with_same_named_tool_packages_each_run_their_own_in_one_process(tmp_path: Path) -> None:
    marks = {name: tmp_path / f"{name}-marks.txt" for name in ("kitchen", "desk")}
    directories = {name: agents_dir(tmp_path / name, name, f"{name}-code", marks[name]) for name in marks}
    async with emulator(tmp_path) as endpoint:
        daemons = [daemon_for(directories[name], endpoint, tmp_path) for name in marks]
        async with anyio.create_task_group() as tg:
            for daemon in daemons:
                await tg.start(daemon.run)
            for name in marks:
                await marked(marks[name], f"{name}-code")
            for daemon in daemons:
                daemon.stop()
    assert {name: set(path.read_text().split()) for name, path in marks.items()} == {
        "kitchen": {"kitchen-code"}, "desk": {"desk-code"}
    }


def test_a_tool_package_file_other_users_can_change_is_refused_on_reload(tmp_path: Path) -> None:
    agents = agents_dir(tmp_path / "agents", "kitchen", "v1", tmp_path / "marks.txt")
    assert set(read_directory(agents, load_agent).configs) == {"kitchen"}
    (agents / "tools" / "version.py").chmod(0o664)
    state = read_directory(agents, load_agent)
    assert not state.configs and state.failed_paths == [agents / "kitchen.yaml"]
    assert "tool module tools/version.py: refusing it" in state.errors[0].message
    assert "writable by its group" in state.errors[0].message
    (agents / "tools" / "version.py").chmod(0o644)
    (agents / "tools").chmod(0o775)
    state = read_directory(agents, load_agent)
    assert not state.configs and "tool module tools: refusing it" in state.errors[0].message
