#!/usr/bin/env bash
# Installs runtime into ./.venv and runs the daemon on the example agents.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
exec .venv/bin/runtime validate agents/
