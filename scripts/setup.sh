#!/usr/bin/env bash
# Installs everything runtime needs on a fresh Debian/Ubuntu machine into ./.venv (idempotent).
#   scripts/setup.sh          runtime + its optional extras
#   scripts/setup.sh test     also the test tools and the packages the audio rig needs
set -euo pipefail
cd "$(dirname "$0")/.."
want=${1:-run}

apt_pkgs=(python3-venv python3-dev libportaudio2 espeak-ng)
if [ "$want" = test ]; then
    apt_pkgs+=(libasound2-plugins pulseaudio alsa-utils pulseaudio-utils sox systemd)
fi
missing=()
for p in "${apt_pkgs[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
    sudo_=""; [ "$(id -u)" -eq 0 ] || sudo_=sudo
    echo "[setup] apt-get install ${missing[*]}" >&2
    export DEBIAN_FRONTEND=noninteractive
    $sudo_ apt-get update -qq
    $sudo_ apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null
fi

python=${PYTHON:-python3}
[ -x .venv/bin/python ] || "$python" -m venv .venv
extras="aec,wake"
[ "$want" = test ] && extras="aec,wake,test,bench,video"
echo "[setup] pip install -e .[$extras]" >&2
.venv/bin/python -m pip install -q --disable-pip-version-check -e ".[$extras]"
# An editable install leaves the project's own modules uncompiled, and with PYTHONDONTWRITEBYTECODE (set by
# systemd/runtime.service) they would be compiled from source at every start: 0.15-0.2 s of `runtime run`'s
# cold start on a 2-core VM (issue 18). pip compiles an installed package; do the same here (__pycache__ is
# ignored by git; a stale file is recompiled in memory, never trusted).
.venv/bin/python -m compileall -q runtime >/dev/null

if [ "$want" = test ] && [ ! -f .venv-wyoming-satellite/installed-1.0.0 ]; then
    # The satellite tests (tests/satellite) run the real `wyoming-satellite` from PyPI. Its one release there
    # (1.0.0) pins wyoming==1.4.1 and zeroconf==0.88.0, older than what runtime uses: it gets a venv of its own.
    echo "[setup] wyoming-satellite 1.0.0 -> .venv-wyoming-satellite/" >&2
    [ -x .venv-wyoming-satellite/bin/python ] || "$python" -m venv .venv-wyoming-satellite
    .venv-wyoming-satellite/bin/python -m pip install -q --disable-pip-version-check "wyoming-satellite==1.0.0"
    touch .venv-wyoming-satellite/installed-1.0.0
fi

if [ "$want" = test ] && [ ! -x .venv/bin/promtool ]; then
    # promtool checks the metrics page and the alert rules. Debian ships it only inside the `prometheus` package,
    # whose installation would also start a Prometheus server on this machine: take the one binary out of the
    # package file instead, into the venv.
    echo "[setup] promtool from Debian's prometheus package -> .venv/bin/promtool" >&2
    work=$(mktemp -d)
    if ! (cd "$work" && apt-get download -q prometheus >/dev/null 2>&1); then
        sudo_=""; [ "$(id -u)" -eq 0 ] || sudo_=sudo
        $sudo_ apt-get update -qq
        (cd "$work" && apt-get download -q prometheus >/dev/null)
    fi
    dpkg-deb --fsys-tarfile "$work"/prometheus_*.deb | tar -x -C "$work" ./usr/bin/promtool
    install -m 0755 "$work/usr/bin/promtool" .venv/bin/promtool
    rm -rf "$work"
fi
