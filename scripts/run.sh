#!/usr/bin/env bash
# Installs runtime into ./.venv and runs the daemon on the example agents in agents/.
#   scripts/run.sh            a spoken demo conversation, then the daemon itself (Ctrl-C stops it)
#   scripts/run.sh ARGS...    `runtime run ARGS...` (e.g. `scripts/run.sh --demo` for the demo alone)
# Without GEMINI_API_KEY the agents talk to the built-in emulator, and the daemon says so loudly.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
export NO_PROXY="127.0.0.1,localhost${NO_PROXY:+,$NO_PROXY}"
if [ $# -gt 0 ]; then
    exec .venv/bin/runtime run "$@"
fi
.venv/bin/runtime run agents/ --demo
echo
echo "[run] demo done; now the daemon runs the agents in agents/ (edit a file to see it reload; Ctrl-C stops it)"
exec .venv/bin/runtime run agents/
