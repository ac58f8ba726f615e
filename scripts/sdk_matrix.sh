#!/usr/bin/env bash
# The runtime against the oldest and the newest supported google-genai (runtime/live/sdk.py): the start-up check
# of the SDK internals the runtime uses, and the tests of the paths that use them. Each release is installed on
# its own into a throwaway folder put ahead of .venv's packages (the releases share every dependency).
#   scripts/sdk_matrix.sh               the oldest and the newest tested release
#   scripts/sdk_matrix.sh 3.4.0 3.5.0   these releases
set -euo pipefail
cd "$(dirname "$0")/.."
if [ $# -gt 0 ]; then
    releases=("$@")
else
    read -r -a releases <<<"$(.venv/bin/python -c 'from runtime.live.sdk import TESTED_SDK_RELEASES as r; print(r[0], r[-1])')"
fi
work=$(mktemp -d "${TMPDIR:-/tmp}/sdk-matrix.XXXXXX")
trap 'rm -rf "$work"' EXIT
for release in "${releases[@]}"; do
    echo "[sdk] google-genai $release" >&2
    .venv/bin/python -m pip install -q --disable-pip-version-check --no-deps --target "$work/$release" \
        "google-genai==$release"
    PYTHONPATH="$work/$release" .venv/bin/python -c "
from runtime.live.sdk import check_sdk
version = check_sdk()
assert version == '$release', f'imported google-genai {version}, not $release'
print('[sdk] google-genai', version, 'has every internal runtime/live/sdk.py uses')"
    RUNTIME_SDK_UNDER_TEST=$release PYTHONPATH="$work/$release" .venv/bin/python -m pytest -q -p no:cacheprovider \
        tests/live/test_sdk.py tests/live/test_receive.py tests/live/test_receive_session.py \
        tests/live/test_uplink.py tests/security/test_server_message_fuzz.py
done
