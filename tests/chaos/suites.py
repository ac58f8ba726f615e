"""Read the fuzz and hostile-input tests' results from a pytest JUnit file: outcome, captured output and, for
hypothesis tests, how many examples ran (hypothesis writes its statistics into the file's properties).

The file comes from the CI test run itself (`scripts/test.sh` points `RUNTIME_RELIABILITY_DIR` at a folder; the
chaos and soak fixtures keep their results there too), or from a pytest subprocess run here.
"""

from __future__ import annotations

import ast
import base64
import os
import pickle
import re
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
FUZZ_FILES = ("tests/foundation/test_properties.py",)
LIMIT_TEST = "tests/chaos/test_session_limit.py"
"""Not part of the timed chaos run: a session at its length limit (its figure goes under Chaos)."""
SECURITY_DIR = "tests/security"
STATISTICS = re.compile(r"(\d+) passing, (\d+) failing, and (\d+) invalid")
HEADER = re.compile(r"^(tests/\S+::\S+):$")
CAPTURED = "Captured Out"
STATISTICS_PROPERTY = "hypothesis-statistics-"
RESULTS_DIR_ENV = "RUNTIME_RELIABILITY_DIR"
"""Where the chaos and soak fixtures keep their results for the report (unset: they keep nothing)."""
JUNIT_NAME = "junit.xml"


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
    """Hypothesis statistics text (as `--hypothesis-show-statistics` prints it) → examples per test node id (summed
    over phases)."""
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


def junit_statistics(tree: ET.ElementTree) -> dict[str, Examples]:
    """The example counts hypothesis wrote into a JUnit file's properties."""
    texts = [
        base64.b64decode(prop.get("value", "")).decode()
        for prop in tree.iter("property")
        if prop.get("name", "").startswith(STATISTICS_PROPERTY)
    ]
    return parse_statistics("\n".join(texts))


def parse_junit(path: Path, statistics: dict[str, Examples] | None = None) -> list[Case]:
    """Every test case of a JUnit file; example counts from `statistics`, else from the file itself."""
    tree = ET.parse(path)
    if statistics is None:
        statistics = junit_statistics(tree)
    cases = []
    for element in tree.iter("testcase"):
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
        return parse_junit(junit), elapsed


def in_paths(module: str, paths: list[str]) -> bool:
    """True when a test module is one of `paths` (files) or lies below one of them (directories)."""
    return any(module == path or module.startswith(path.rstrip("/") + "/") for path in paths)


def keep_result(name: str, result: Any) -> None:
    """Keep a fixture's measured result for the report, when the test run was asked to (`RESULTS_DIR_ENV`)."""
    folder = os.environ.get(RESULTS_DIR_ENV)
    if folder:
        (Path(folder) / f"{name}.pickle").write_bytes(pickle.dumps(result))


def kept_result(folder: Path, name: str) -> Any:
    """A result `keep_result` kept; a clear error when that test did not run or did not get that far."""
    path = folder / f"{name}.pickle"
    if not path.exists():
        raise RuntimeError(f"{path} is missing: the {name} tests did not run in this test run")
    return pickle.loads(path.read_bytes())


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
