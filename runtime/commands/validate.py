"""`runtime validate PATH...`: check agent files; exit 0 when all are valid, 1 when any is not, 2 on misuse."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from runtime.agentfile.loader import LoadedAgent
    from runtime.errors import RuntimeConfigError

EXIT_OK, EXIT_INVALID, EXIT_USAGE = 0, 1, 2


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("paths", nargs="+", type=Path, metavar="PATH", help="agent files, or directories of them")
    parser.add_argument(
        "--format",
        choices=("text", "json", "github"),
        default="text",
        help="text (path:line:column), json (a list of objects) or github (workflow annotations)",
    )
    parser.add_argument("--strict", action="store_true", help="fail on warnings too (an unknown model, ...)")
    parser.add_argument(
        "--models",
        type=Path,
        metavar="FILE",
        help="a models file that adds or replaces catalogue models by id (default: $RUNTIME_MODELS)",
    )
    parser.add_argument(
        "--secrets-dir",
        type=Path,
        metavar="DIR",
        help="where ${secret:NAME} files live (default: $RUNTIME_SECRETS_DIR or /etc/runtime/secrets)",
    )


def run(args: argparse.Namespace) -> int:
    files, problem = _collect(args.paths)
    if problem:
        print(f"runtime validate: {problem}", file=sys.stderr)
        return EXIT_USAGE
    findings = _catalogue_problems(args.models)
    if not findings:
        findings = check_files(files, secrets_dir=args.secrets_dir, strict=args.strict)
    if args.strict:
        findings = [_as_error(finding) for finding in findings]
    print(FORMATS[args.format](findings), end="")
    errors = sum(1 for finding in findings if finding.severity == "error")
    if args.format == "text":
        print(_summary(len(files), findings), file=sys.stderr)
    return EXIT_INVALID if errors else EXIT_OK


def _catalogue_problems(models_file: Path | None) -> list[RuntimeConfigError]:
    """Errors of the models file in force (`--models` wins over $RUNTIME_MODELS), before any agent is checked."""
    import os

    from runtime.agentfile import catalogue
    from runtime.agentfile.catalogue_file import CatalogueErrors

    if models_file is not None:
        os.environ[catalogue.ENV_VAR] = str(models_file)  # one run of one command: the flag is the variable
    try:
        catalogue.current()
    except CatalogueErrors as failure:
        return list(failure.errors)
    return []


def _collect(paths: list[Path]) -> tuple[list[Path], str]:
    """The files to check, or a usage problem."""
    from runtime.agentfile.loader import agent_files

    files: list[Path] = []
    for path in paths:
        if path.is_dir():
            found = agent_files(path)
            if not found:
                return [], f"{path}: no agent files (*.yaml, *.yml) in this directory"
            files.extend(found)
        elif path.exists():
            files.append(path)
        else:
            return [], f"{path}: no such file or directory"
    unique = {path.resolve(): path for path in reversed(files)}  # a file named twice is checked once
    return [path for path in files if unique.get(path.resolve()) is path], ""


def check_files(files: list[Path], *, secrets_dir: Path | None, strict: bool) -> list[RuntimeConfigError]:
    """Every error and warning of the files, plus agent names used twice within one directory."""
    from runtime.agentfile.loader import ConfigErrors, duplicate_names, load_agent
    from runtime.daemon.modes import check_activity
    from runtime.errors import RuntimeConfigError

    findings: list[RuntimeConfigError] = []
    by_directory: dict[Path, list[LoadedAgent]] = {}
    for file in files:
        try:
            agent = load_agent(file, secrets_dir=secrets_dir, strict=strict)
            check_activity(agent.spec, agent.path)  # the same check the daemon makes when it loads a file
        except ConfigErrors as failure:
            findings.extend(failure.errors)
            continue
        except RuntimeConfigError as failure:
            findings.append(failure)
            continue
        findings.extend(agent.warnings)
        by_directory.setdefault(file.resolve().parent, []).append(agent)
    for agents in by_directory.values():
        findings.extend(duplicate_names(agents))
        findings.extend(server_agents_sharing_a_microphone(agents))
    return findings


def server_agents_sharing_a_microphone(agents: list[LoadedAgent]) -> list[RuntimeConfigError]:
    """A warning per `server`-mode agent whose microphone another `server`-mode agent of its directory uses:
    under one daemon both would hear, and answer, everything said. Devices are compared by what PortAudio
    resolves them to (by their spelling where it cannot)."""
    from runtime.errors import Location, RuntimeConfigError

    listening = [a for a in agents if a.spec.activity.mode == "server" and _sound_card(a.spec.audio.input.device)]
    if len(listening) < 2:
        return []
    devices = [agent.spec.audio.input.device for agent in listening]
    # One spelling is one device: PortAudio (a ~150 ms ALSA probe) is asked only when spellings differ.
    keys = _microphone_keys(devices) if len({str(d) for d in devices}) > 1 else [str(d) for d in devices]
    by_key: dict[str, list[LoadedAgent]] = {}
    for agent, key in zip(listening, keys, strict=True):
        by_key.setdefault(key, []).append(agent)
    findings = []
    for sharing in by_key.values():
        for agent in sharing if len(sharing) > 1 else []:
            others = ", ".join(other.name for other in sharing if other is not agent)
            findings.append(RuntimeConfigError(
                agent.microphone_location or Location(str(agent.path)),
                f"agent {agent.name!r} shares its microphone with {others}, all in `server` mode: each would hear and"
                " answer everything said",
                "give each agent its own wake word (`activity.mode: wake_word`) or push-to-talk, or its own microphone",
                "warning",
            ))
    return findings


def _sound_card(device: str | int) -> bool:
    return not (isinstance(device, str) and (device.startswith("file:") or device == "null"))


def _microphone_keys(devices: list[str | int]) -> list[str]:
    from runtime.audio.devices import import_sounddevice, quiet_stderr
    from runtime.audio.shared import device_key
    from runtime.errors import DeviceError

    try:
        with quiet_stderr():  # PortAudio's ALSA probing prints C-level noise for every unusable device
            sd = import_sounddevice()
            listed, default_index = sd.query_devices(), int(sd.default.device[0])
    except (DeviceError, ImportError):  # no PortAudio here: compare the spellings
        return [f"input:unresolved:{device}" for device in devices]
    return [device_key(device, "input", listed, default_index) for device in devices]


def _as_error(finding: RuntimeConfigError) -> RuntimeConfigError:
    from runtime.errors import RuntimeConfigError

    if finding.severity != "warning":
        return finding
    return RuntimeConfigError(finding.location, finding.message, finding.hint, "error")


def _summary(file_count: int, findings: list[RuntimeConfigError]) -> str:
    errors = sum(1 for finding in findings if finding.severity == "error")
    warnings = sum(1 for finding in findings if finding.severity == "warning")
    bad_files = len({finding.location.path for finding in findings if finding.severity == "error"})
    files = "file" if file_count == 1 else "files"
    notices = len(findings) - errors - warnings
    if not errors:
        counts = [f"{n} {word}{'s' * (n != 1)}" for n, word in ((warnings, "warning"), (notices, "notice")) if n]
        extra = f" ({', '.join(counts)})" if counts else ""
        return f"{file_count} {files} valid{extra}"
    return (
        f"{bad_files} of {file_count} {files} invalid: {errors} error{'s' * (errors != 1)}, "
        f"{warnings} warning{'s' * (warnings != 1)}"
    )


def _text(findings: list[RuntimeConfigError]) -> str:
    return "".join(finding.render() + "\n" for finding in findings)


def _json(findings: list[RuntimeConfigError]) -> str:
    return (
        json.dumps(
            [
                {
                    "path": finding.location.path,
                    "line": finding.location.line,
                    "column": finding.location.column,
                    "severity": finding.severity,
                    "message": finding.message,
                    "hint": finding.hint,
                }
                for finding in findings
            ],
            indent=2,
        )
        + "\n"
    )


def _escape(text: str, *, property_value: bool = False) -> str:
    """GitHub workflow-command escaping (`%`, newlines; also `:` and `,` inside properties)."""
    text = text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")
    return text.replace(":", "%3A").replace(",", "%2C") if property_value else text


def _github(findings: list[RuntimeConfigError]) -> str:
    lines = []
    for finding in findings:
        where = finding.location
        message = f"{finding.message}\nhint: {finding.hint}" if finding.hint else finding.message
        properties = f"file={_escape(where.path, property_value=True)}"
        if where.line > 0:
            properties += f",line={where.line},col={where.column}"
        lines.append(f"::{finding.severity} {properties},title=runtime validate::{_escape(message)}\n")
    return "".join(lines)


FORMATS = {"text": _text, "json": _json, "github": _github}
