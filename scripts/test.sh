#!/usr/bin/env bash
# Installs what the tests need (system packages, .venv, the headless audio rig) and runs every check.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh test
export NO_PROXY="127.0.0.1,localhost${NO_PROXY:+,$NO_PROXY}" no_proxy="127.0.0.1,localhost${no_proxy:+,$no_proxy}"
if [ -x tests/rig/setup.sh ]; then
    tests/rig/setup.sh
    # shellcheck disable=SC1091
    . "${RIG_DIR:-/tmp/runtime-audio-rig}/rig.env"
fi
echo "[test] ruff" >&2
.venv/bin/ruff check runtime tests bench
echo "[test] mypy --strict runtime" >&2
.venv/bin/mypy runtime
echo "[test] architecture: import-linter contracts (pyproject.toml, docs/architecture.md)" >&2
.venv/bin/lint-imports --no-cache
if [ $# -gt 0 ]; then
    echo "[test] pytest $*" >&2
    exec .venv/bin/python -m pytest -q "$@"
fi
echo "[test] google-genai internals: the oldest and the newest supported release (scripts/sdk_matrix.sh)" >&2
scripts/sdk_matrix.sh
# The full run also writes the reliability page from its own chaos, soak, fuzzing, hostile-input and audio-rig
# results (the fixtures keep them in $RUNTIME_RELIABILITY_DIR, hypothesis's example counts go into the JUnit file)
# to build/, which git ignores: the run leaves the checkout as it found it. scripts/refresh-docs.sh copies the
# page to docs/reliability.md. The page is printed even when a test failed (it lists the failures).
figures=$PWD/build/reliability
rm -rf "$figures" && mkdir -p "$figures"
echo "[test] pytest" >&2
status=0
RUNTIME_RELIABILITY_DIR=$figures .venv/bin/python -m pytest -q -o junit_logging=system-out \
    --junitxml="$figures/junit.xml" || status=$?
echo "[test] reliability figures (chaos, soak, fuzzing, hostile input, audio rig) -> build/reliability.md" >&2
if .venv/bin/python -m tests.chaos.report --from "$figures" --markdown build/reliability.md; then
    cat build/reliability.md
elif [ "$status" -eq 0 ]; then
    status=1
fi
exit "$status"
