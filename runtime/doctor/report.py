"""The result of one doctor check and how a list of them is shown: ✓/✗ lines with hints, or JSON."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Literal

Status = Literal["pass", "warn", "fail", "skip"]

MARKS: dict[Status, str] = {"pass": "✓", "warn": "!", "fail": "✗", "skip": "-"}
EXIT_OK, EXIT_FAILED = 0, 1


@dataclass(frozen=True)
class Check:
    """One line of the report: what was checked, how it went, and what to do about it."""

    family: str
    """agents | audio | credentials | network | live | service"""
    name: str
    """What was checked, e.g. `kitchen microphone`."""
    status: Status
    detail: str = ""
    """What was found, e.g. `opens at 16000 Hz, level -32 dBFS`."""
    hint: str = ""
    """What to do when it is not a pass."""


def passed(family: str, name: str, detail: str = "") -> Check:
    return Check(family, name, "pass", detail)


def failed(family: str, name: str, detail: str, hint: str) -> Check:
    return Check(family, name, "fail", detail, hint)


def warned(family: str, name: str, detail: str, hint: str) -> Check:
    return Check(family, name, "warn", detail, hint)


def skipped(family: str, name: str, detail: str) -> Check:
    return Check(family, name, "skip", detail)


def exit_code(checks: Sequence[Check]) -> int:
    """0 only when nothing failed (warnings and skipped checks do not fail the run)."""
    return EXIT_FAILED if any(check.status == "fail" for check in checks) else EXIT_OK


def render_text(checks: Sequence[Check]) -> str:
    """Checks grouped by family, one `✓ name: detail` line each, the hint indented below a problem."""
    lines: list[str] = []
    family = ""
    for check in checks:
        if check.family != family:
            family = check.family
            lines.append(f"{family}:" if not lines else f"\n{family}:")
        text = f"  {MARKS[check.status]} {check.name}" + (f": {check.detail}" if check.detail else "")
        lines.append(text)
        if check.hint and check.status in ("fail", "warn"):
            lines.append(f"      hint: {check.hint}")
    lines.append("")
    lines.append(summary(checks))
    return "\n".join(lines) + "\n"


def summary(checks: Sequence[Check]) -> str:
    counts = {status: sum(1 for check in checks if check.status == status) for status in MARKS}
    verdict = "ready" if exit_code(checks) == EXIT_OK else "not ready"
    return (f"{verdict}: {counts['pass']} passed, {counts['fail']} failed, {counts['warn']} warnings, "
            f"{counts['skip']} skipped")


def render_json(checks: Sequence[Check]) -> str:
    document = {
        "ok": exit_code(checks) == EXIT_OK,
        "summary": summary(checks),
        "checks": [asdict(check) for check in checks],
    }
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"
