#!/usr/bin/env bash
# Refreshes the committed page of generated figures, docs/reliability.md: the full test run (scripts/test.sh)
# writes it to build/reliability.md from its own results, and this copies it into docs/ for review and commit.
# On a machine whose audio rig others share, hold its lock: flock /tmp/runtime-rig.lock scripts/refresh-docs.sh
# (The hand-typed figures of docs/audio.md, docs/emulator.md and docs/sessions.md name their own commands.)
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/test.sh
cp build/reliability.md docs/reliability.md
echo "[refresh-docs] docs/reliability.md refreshed: review it (git diff docs/reliability.md) and commit it" >&2
