"""The service unit: installed, enabled, running, and its `systemd-analyze security` exposure score.

Works where systemd does not run (containers, CI): `systemctl` then says so, the unit file is looked for on
disk, and its score is computed offline (`systemd-analyze security --offline=true FILE`, systemd 250+).
"""

from __future__ import annotations

import re
import shutil
import subprocess
from collections.abc import Sequence
from pathlib import Path

from runtime.doctor.report import Check, failed, passed, skipped, warned

FAMILY = "service"
UNIT_DIRS = (Path("/etc/systemd/system"), Path("/usr/local/lib/systemd/system"), Path("/lib/systemd/system"),
             Path("/usr/lib/systemd/system"))
GOOD_SCORE = 2.0
"""The shipped unit scores 1.1; above this something was loosened."""
TIMEOUT_S = 30.0
INSTALL_HINT = "install it: see docs/daemon.md (systemd/runtime.service)"


def run_tool(argv: Sequence[str]) -> tuple[int, str]:
    """Exit status and combined output of a systemd tool; 127 when it is not installed or hangs."""
    if shutil.which(argv[0]) is None:
        return 127, f"{argv[0]} not found"
    try:
        done = subprocess.run(list(argv), capture_output=True, text=True, timeout=TIMEOUT_S, check=False)
    except (OSError, subprocess.TimeoutExpired) as error:
        return 127, str(error)
    return done.returncode, (done.stdout + done.stderr).strip()


def parse_show(output: str) -> dict[str, str]:
    """`systemctl show -p A,B` output (`A=value` lines) as a dict."""
    return dict(line.split("=", 1) for line in output.splitlines() if "=" in line)


def parse_score(output: str) -> float | None:
    """The number of `Overall exposure level for NAME: 1.1 OK`."""
    match = re.search(r"Overall exposure level for \S+: (\d+(?:\.\d+)?)", output)
    return float(match.group(1)) if match else None


def find_unit_file(unit: str, dirs: Sequence[Path] = UNIT_DIRS) -> Path | None:
    for directory in dirs:
        if (directory / unit).is_file():
            return directory / unit
    return None


def check_service(unit: str) -> list[Check]:
    status, output = run_tool(["systemctl", "show", unit, "-p", "LoadState,UnitFileState,ActiveState,FragmentPath"])
    if status == 127 and "not found" in output:
        return [skipped(FAMILY, unit, "systemctl not available"), *_offline(unit)]
    state = parse_show(output) if status == 0 else {}
    if not state.get("LoadState"):
        first = output.splitlines()[0] if output else f"exit status {status}"
        return [skipped(FAMILY, unit, f"systemctl not available: {first}"), *_offline(unit)]
    if state["LoadState"] == "not-found":
        return [warned(FAMILY, unit, "not installed", INSTALL_HINT)]
    checks = [
        passed(FAMILY, f"{unit} installed", state.get("FragmentPath", "")),
        _state_check(f"{unit} enabled", state.get("UnitFileState", ""), ("enabled",),
                     f"systemctl enable {unit}"),
        _state_check(f"{unit} running", state.get("ActiveState", ""), ("active", "reloading"),
                     f"systemctl start {unit}; journalctl -u {unit} says why it stopped"),
    ]
    return [*checks, _score(unit, [unit])]


def _state_check(name: str, value: str, good: tuple[str, ...], hint: str) -> Check:
    if value in good:
        return passed(FAMILY, name, value)
    return failed(FAMILY, name, value or "unknown", hint)


def _offline(unit: str) -> list[Check]:
    """Without a running systemd: is the unit file installed, and how does it score?"""
    path = find_unit_file(unit)
    if path is None:
        return [warned(FAMILY, f"{unit} installed", "not installed (no unit file in /etc or /lib)", INSTALL_HINT)]
    return [passed(FAMILY, f"{unit} installed", str(path)), _score(unit, ["--offline=true", str(path)])]


def _score(unit: str, target: list[str]) -> Check:
    name = f"{unit} security"
    status, output = run_tool(["systemd-analyze", "security", "--no-pager", *target])
    score = parse_score(output)
    if score is None:
        first = output.splitlines()[-1] if output else f"exit status {status}"
        return skipped(FAMILY, name, f"no score from systemd-analyze security ({first})")
    if score > GOOD_SCORE:
        return warned(FAMILY, name, f"exposure {score:.1f}", f"the shipped unit scores 1.1: compare with "
                      f"systemd/runtime.service (systemd-analyze security {unit})")
    return passed(FAMILY, name, f"exposure {score:.1f} (systemd-analyze security)")
