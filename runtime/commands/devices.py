"""`runtime devices [AGENTS_DIR]`: list audio devices and mark the ones the agents of a directory use."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

EXIT_OK, EXIT_FAILED = 0, 1


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "agents_dir", nargs="?", type=Path, metavar="AGENTS_DIR", help="mark the devices these agents refer to"
    )
    parser.add_argument("--json", action="store_true", help="print a JSON list instead of a table")


def run(args: argparse.Namespace) -> int:
    from runtime.audio.devices import import_sounddevice, quiet_stderr
    from runtime.errors import DeviceError

    try:
        with quiet_stderr():  # PortAudio's ALSA probing prints C-level noise for every unusable device
            sd = import_sounddevice()
            devices = [dict(device) for device in sd.query_devices()]
            defaults = (int(sd.default.device[0]), int(sd.default.device[1]))
    except DeviceError as error:
        print(f"runtime devices: {error}", file=sys.stderr)
        return EXIT_FAILED
    uses, problems = agent_references(args.agents_dir, devices, defaults) if args.agents_dir else ({}, [])
    if args.json:
        print(json.dumps(as_records(devices, defaults, uses), indent=2))
    else:
        print(render_table(devices, defaults, uses) + render_sharing(devices, uses), end="")
    for problem in problems:
        print(f"warning: {problem}", file=sys.stderr)
    return EXIT_OK



def agent_references(
    agents_dir: Path, devices: Sequence[Mapping[str, Any]], defaults: tuple[int, int]
) -> tuple[dict[int, list[str]], list[str]]:
    """Device index -> ["kitchen microphone", ...], and the references that match no device."""
    from runtime.agentfile.loader import load_directory
    from runtime.audio.selection import choose_device
    from runtime.errors import DeviceError

    agents, errors = load_directory(agents_dir)
    problems = [error.render() for error in errors]
    uses: dict[int, list[str]] = {}
    for agent in agents:
        ends = (
            ("microphone", "input", agent.spec.audio.input.device, defaults[0]),
            ("speaker", "output", agent.spec.audio.output.device, defaults[1]),
        )
        for role, kind, wanted, default_index in ends:
            if isinstance(wanted, str) and (wanted.startswith("file:") or wanted == "null"):
                continue
            try:
                index = choose_device(devices, default_index, wanted, kind)  # type: ignore[arg-type]
            except DeviceError as error:
                problems.append(f"{agent.name} {role}: {error}")
                continue
            uses.setdefault(index, []).append(f"{agent.name} {role}")
    return uses, problems


def as_records(
    devices: Sequence[Mapping[str, Any]], defaults: tuple[int, int], uses: Mapping[int, list[str]]
) -> list[dict[str, Any]]:
    """One JSON object per device."""
    return [
        {
            "index": index,
            "name": device["name"],
            "input_channels": int(device["max_input_channels"]),
            "output_channels": int(device["max_output_channels"]),
            "default_rate_hz": int(device["default_samplerate"]),
            "default_input": index == defaults[0],
            "default_output": index == defaults[1],
            "used_by": uses.get(index, []),
            "shared_by": {role: agents for role, agents in sharing(uses.get(index, [])).items() if len(agents) > 1},
        }
        for index, device in enumerate(devices)
    ]


def render_table(devices: Sequence[Mapping[str, Any]], defaults: tuple[int, int], uses: Mapping[int, list[str]]) -> str:
    """A table of devices; `>` marks the default input, `<` the default output."""
    if not devices:
        return "no audio devices found (no sound card, or no sound server reachable)\n"
    width = max(len(str(device["name"])) for device in devices)
    lines = [f"{'':2}{'idx':>3}  {'in':>3}  {'out':>3}  {'rate':>6}  {'name':<{width}}  used by"]
    for record in as_records(devices, defaults, uses):
        mark = (">" if record["default_input"] else " ") + ("<" if record["default_output"] else " ")
        lines.append(
            f"{mark}{record['index']:>3}  {record['input_channels']:>3}  {record['output_channels']:>3}  "
            f"{record['default_rate_hz']:>6}  {record['name']:<{width}}  {', '.join(record['used_by'])}".rstrip()
        )
    lines.append("> default input, < default output; rate in Hz (the runtime converts to 16/24 kHz when needed)")
    return "\n".join(lines) + "\n"


def sharing(used_by: Sequence[str]) -> dict[str, list[str]]:
    """Role ("microphone", "speaker") -> the agents using the device in that role, from `used_by` entries."""
    roles: dict[str, list[str]] = {}
    for use in used_by:
        agent, _, role = use.rpartition(" ")
        roles.setdefault(role, []).append(agent)
    return roles


def render_sharing(devices: Sequence[Mapping[str, Any]], uses: Mapping[int, list[str]]) -> str:
    """One line per device several agents use: the daemon opens it once and shares it between them."""
    lines = [
        f"shared {role}: {devices[index]['name']} ({index}): {', '.join(agents)}"
        for index, used_by in sorted(uses.items())
        for role, agents in sharing(used_by).items()
        if len(agents) > 1
    ]
    if not lines:
        return ""
    note = "one stream per device under one daemon, every agent on it hears (or plays into) it; see docs/audio.md"
    return "\n".join([*lines, note]) + "\n"
