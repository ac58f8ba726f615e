"""`runtime devices`: lists what PortAudio sees, marks what agents use, survives a machine with no sound."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from tests.audio.rig import needs_rig

AGENT = "model: gemini-3.8-live\naudio:\n  input: {{device: {mic}}}\n  output: {{device: {speaker}}}\n"


def runtime_devices(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "runtime", "devices", *args],
        capture_output=True,
        text=True,
        timeout=60,
        env=env or dict(os.environ),
    )


@needs_rig
def test_devices_are_listed_and_the_ones_agents_use_are_marked(tmp_path: Path) -> None:
    (tmp_path / "kitchen.yaml").write_text(AGENT.format(mic="rig_micfeed", speaker="default"))
    (tmp_path / "hall.yaml").write_text(AGENT.format(mic='"Blue Yeti"', speaker='"file:out.wav"'))
    table = runtime_devices(str(tmp_path))
    assert table.returncode == 0, table.stderr
    assert "rig_micfeed" in table.stdout and "kitchen microphone" in table.stdout
    assert any("default" in line and "kitchen speaker" in line for line in table.stdout.splitlines())
    assert "hall microphone: no input device matches 'Blue Yeti'" in table.stderr
    records = json.loads(runtime_devices(str(tmp_path), "--json").stdout)
    speaker = next(r for r in records if r["used_by"] == ["kitchen speaker"])
    assert speaker["default_output"] and speaker["output_channels"] > 0 and speaker["default_rate_hz"] > 0


def test_a_machine_without_sound_gets_a_message_not_a_traceback() -> None:
    env = dict(os.environ, PULSE_SERVER="unix:/nonexistent/native")
    result = runtime_devices(env=env)
    assert result.returncode in (0, 1)
    assert "Traceback" not in result.stderr
    assert "no audio devices found" in result.stdout or "PortAudio is not available" in result.stderr


@needs_rig
def test_agents_sharing_a_device_are_shown_together(tmp_path: Path) -> None:
    listed = json.loads(runtime_devices("--json").stdout)  # the command's view (this process's may be older)
    default_in = next(record["index"] for record in listed if record["default_input"])
    (tmp_path / "kitchen.yaml").write_text(AGENT.format(mic="default", speaker="default"))
    (tmp_path / "house.yaml").write_text(AGENT.format(mic=default_in, speaker="default"))
    (tmp_path / "hall.yaml").write_text(AGENT.format(mic="rig_micfeed", speaker='"file:out.wav"'))
    table = runtime_devices(str(tmp_path))
    assert table.returncode == 0, table.stderr
    lines = table.stdout.splitlines()
    assert f"shared microphone: default ({default_in}): house, kitchen" in lines, table.stdout
    assert any(line.startswith("shared speaker: default (") and line.endswith(": house, kitchen") for line in lines)
    assert not any(line.startswith("shared") and "hall" in line for line in lines)
    records = json.loads(runtime_devices(str(tmp_path), "--json").stdout)
    default = next(r for r in records if r["index"] == default_in)
    assert default["shared_by"]["microphone"] == ["house", "kitchen"]
