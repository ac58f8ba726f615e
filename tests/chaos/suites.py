"""Run other engineers' fuzz and hostile-input tests in a pytest subprocess and read their results: outcome,
captured output and, for hypothesis tests, how many examples ran (from `--hypothesis-show-statistics`).
"""

from __future__ import annotations

import ast
import re
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
FUZZ_FILES = ("tests/foundation/test_properties.py",)
LIMIT_TEST = "tests/chaos/test_session_limit.py"
"""Not part of the timed chaos run: a session at its length limit (its figure goes under Chaos)."""
SECURITY_DIR = "tests/security"
STATISTICS = re.compile(r"(\d+) passing, (\d+) failing, and (\d+) invalid")
HEADER = re.compile(r"^(tests/\S+::\S+):$")
CAPTURED = "Captured Out"


@dataclass(frozen=True)
class Examples:
    passing: int
    failing: int
    invalid: int


@dataclass(frozen=True)
class Case:
    module: str
    """`tests/security/test_netguard.py`"""
    name: str
    outcome: str
    """passed | failed | error | xfailed | skipped"""
    seconds: float
    output: tuple[str, ...]
    reason: str = ""
    examples: Examples | None = None


def parse_statistics(text: str) -> dict[str, Examples]:
    """`--hypothesis-show-statistics` output → examples per test node id (summed over phases)."""
    found: dict[str, Examples] = {}
    current: str | None = None
    for line in text.splitlines():
        header = HEADER.match(line.strip())
        if header:
            current = header[1]
            continue
        counts = STATISTICS.search(line)
        if counts and current is not None:
            before = found.get(current, Examples(0, 0, 0))
            passing, failing, invalid = (int(v) for v in counts.groups())
            found[current] = Examples(before.passing + passing, before.failing + failing, before.invalid + invalid)
    return found


def parse_junit(path: Path, statistics: dict[str, Examples]) -> list[Case]:
    cases = []
    for element in ET.parse(path).iter("testcase"):
        module = element.get("classname", "").replace(".", "/") + ".py"
        name = element.get("name", "")
        outcome, reason = "passed", ""
        for child in element:
            if child.tag in ("failure", "error"):
                outcome, reason = ("failed" if child.tag == "failure" else "error"), child.get("message", "")
            elif child.tag == "skipped":
                kind = child.get("type", "")
                outcome = "xfailed" if "xfail" in kind else "skipped"
                reason = child.get("message", "")
        output = tuple(
            line.strip()
            for out in element.iter("system-out")
            for line in (out.text or "").splitlines()
            if line.strip() and CAPTURED not in line
        )
        base = name.split("[", 1)[0]
        examples = statistics.get(f"{module}::{name}") or statistics.get(f"{module}::{base}")
        cases.append(Case(module, name, outcome, float(element.get("time", "0")), output, reason, examples))
    return cases


def run_suites(paths: list[str]) -> tuple[list[Case], float]:
    """Run pytest on `paths`; every case and the wall time (seconds) the run took."""
    import time

    with tempfile.TemporaryDirectory(prefix="reliability-") as tmp:
        junit = Path(tmp) / "junit.xml"
        command = [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            "--hypothesis-show-statistics",
            "-o",
            "junit_logging=system-out",
            f"--junitxml={junit}",
            *paths,
        ]
        began = time.monotonic()
        done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, check=False)
        elapsed = time.monotonic() - began
        if not junit.exists():
            raise RuntimeError(f"pytest did not run ({done.returncode}):\n{done.stdout[-2000:]}{done.stderr[-2000:]}")
        return parse_junit(junit, parse_statistics(done.stdout)), elapsed


def default_paths() -> list[str]:
    """The fuzz suites, the security suite, and the session-limit test."""
    paths = [p for p in (*FUZZ_FILES, LIMIT_TEST) if (ROOT / p).exists()]
    if (ROOT / SECURITY_DIR).is_dir():
        paths.append(SECURITY_DIR)
    return paths


def module_summary(module: str) -> str:
    """The first line of a test module's docstring: what its tests prove."""
    try:
        doc = ast.get_docstring(ast.parse((ROOT / module).read_text()))
    except (OSError, SyntaxError):
        return ""
    return (doc or "").strip().splitlines()[0] if doc else ""
