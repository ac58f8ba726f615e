#!/usr/bin/env bash
# Installs everything runtime needs on a fresh Debian/Ubuntu machine into ./.venv (idempotent).
#   scripts/setup.sh          runtime + its optional extras
#   scripts/setup.sh test     also the test tools and the packages the audio rig needs
set -euo pipefail
cd "$(dirname "$0")/.."
want=${1:-run}

apt_pkgs=(python3-venv python3-dev libportaudio2 espeak-ng)
if [ "$want" = test ]; then
    # prometheus: for promtool (checks the metrics page and the alert rules); ~96 MB installed, ~20 s
    apt_pkgs+=(libasound2-plugins pulseaudio alsa-utils pulseaudio-utils sox systemd prometheus)
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
[ "$want" = test ] && extras="aec,wake,test,bench"
echo "[setup] pip install -e .[$extras]" >&2
.venv/bin/python -m pip install -q --disable-pip-version-check -e ".[$extras]"
