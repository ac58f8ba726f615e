#!/usr/bin/env bash
# Headless audio rig for the audio tests: gives PortAudio a real-time-clocked default microphone (16 kHz)
# and speaker (24 kHz) on a machine with no sound card, no kernel modules and no systemd.
#
#   speaker: ALSA "default" -> pulse plugin -> PulseAudio null sink rig_speaker
#            (record what it played from ALSA pcm "rig_speaker_monitor")
#   mic:     ALSA "default" <- pulse plugin <- PulseAudio source rig_mic (a remap of rig_micfeed.monitor)
#            (feed it by playing into ALSA pcm "rig_micfeed", or `paplay -d rig_micfeed speech.wav`)
#
# Idempotent: re-uses a running daemon.  Usage:
#   tests/rig/setup.sh          install packages, start PulseAudio, write $RIG_DIR/rig.env
#   . "$RIG_DIR/rig.env"        exports PULSE_SERVER, XDG_RUNTIME_DIR, RIG_DIR for the tests
#   tests/rig/setup.sh stop     stop the daemon and its helpers
# Knobs: RIG_DIR (default /tmp/runtime-audio-rig), PYTHON (default .venv/bin/python), RIG_SKIP_APT=1
set -euo pipefail
cd "$(dirname "$0")/../.."

RIG_DIR=${RIG_DIR:-/tmp/runtime-audio-rig}
PYTHON=${PYTHON:-.venv/bin/python}
RUN_DIR=$RIG_DIR/run
SOCK=$RUN_DIR/pulse/native
export XDG_RUNTIME_DIR=$RUN_DIR
export PULSE_SERVER=unix:$SOCK
log() { printf '[rig %(%H:%M:%S)T] %s\n' -1 "$*" >&2; }

stop_rig() {
    for f in "$RIG_DIR"/keepalive-*.pid; do
        [ -e "$f" ] || continue
        kill "$(cat "$f")" 2>/dev/null || true
        rm -f "$f"
    done
    pulseaudio --kill 2>/dev/null || true
    p=$(cat "$RUN_DIR/pulse/pid" 2>/dev/null || true)
    if [ -n "$p" ] && kill -0 "$p" 2>/dev/null; then kill "$p"; fi
    rm -f "$RUN_DIR/pulse/pid"
    log "stopped"
}
if [ "${1:-}" = stop ]; then stop_rig; exit 0; fi

# 1. packages (the sounddevice wheel does not bundle PortAudio on Linux)
APT_PKGS=(libportaudio2 libasound2-plugins pulseaudio pulseaudio-utils alsa-utils espeak-ng)
if [ -z "${RIG_SKIP_APT:-}" ]; then
    missing=()
    for p in "${APT_PKGS[@]}"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
    done
    if [ ${#missing[@]} -gt 0 ]; then
        sudo_=""; [ "$(id -u)" -eq 0 ] || sudo_=sudo
        log "apt-get install ${missing[*]}"
        export DEBIAN_FRONTEND=noninteractive
        $sudo_ apt-get -o DPkg::Lock::Timeout=300 update -qq
        $sudo_ apt-get -o DPkg::Lock::Timeout=300 install -y -q --no-install-recommends "${missing[@]}" >/dev/null
    fi
fi

# 2. configuration: null sinks at the Live API's rates
mkdir -p "$RIG_DIR" "$RUN_DIR"
chmod 700 "$RUN_DIR"
cat > "$RIG_DIR/rig.pa" <<'PA'
#!/usr/bin/pulseaudio -nF
load-module module-native-protocol-unix auth-anonymous=1
load-module module-null-sink sink_name=rig_speaker rate=24000 channels=1 format=s16le sink_properties=device.description=RigSpeaker
load-module module-null-sink sink_name=rig_micfeed rate=16000 channels=1 format=s16le sink_properties=device.description=RigMicFeed
load-module module-remap-source source_name=rig_mic master=rig_micfeed.monitor channels=1 source_properties=device.description=RigMic
set-default-sink rig_speaker
set-default-source rig_mic
PA
# ALSA names for the tests; "default" itself is Debian's pulse plugin (/etc/alsa/conf.d/99-pulse.conf).
ASOUND=/etc/asound.conf
if ! grep -q 'rig_speaker_monitor' "$ASOUND" 2>/dev/null; then
    sudo_=""; [ "$(id -u)" -eq 0 ] || sudo_=sudo
    $sudo_ tee -a "$ASOUND" >/dev/null <<'ALSA'
# --- runtime audio rig begin
pcm.rig_speaker_monitor { type pulse; device "rig_speaker.monitor"; hint { show on; description "rig: monitor of the fake speaker" } }
pcm.rig_micfeed { type pulse; device "rig_micfeed"; hint { show on; description "rig: feed the fake microphone" } }
# --- runtime audio rig end
ALSA
fi
# A second, private sound server that tests kill and restart to unplug a device (tests/audio/rig.py).
if ! grep -q "rig_lossy.*$RIG_DIR/lossy/" "$ASOUND" 2>/dev/null; then
    sudo_=""; [ "$(id -u)" -eq 0 ] || sudo_=sudo
    $sudo_ sed -i '/rig_lossy/d' "$ASOUND"   # written for another RIG_DIR
    $sudo_ tee -a "$ASOUND" >/dev/null <<ALSA
pcm.rig_lossy { type pulse; server "unix:$RIG_DIR/lossy/run/pulse/native"; device "lossy"; hint { show on; description "rig: a speaker the tests unplug" } }
pcm.rig_lossy_mic { type pulse; server "unix:$RIG_DIR/lossy/run/pulse/native"; device "lossy.monitor"; hint { show on; description "rig: a microphone the tests unplug" } }
ALSA
fi
mkdir -p "$RIG_DIR/lossy/run"
chmod 700 "$RIG_DIR/lossy/run"
cat > "$RIG_DIR/lossy/lossy.pa" <<'PA'
load-module module-native-protocol-unix auth-anonymous=1
load-module module-null-sink sink_name=lossy rate=48000 channels=2
PA
cat > "$RIG_DIR/rig.env" <<ENV
export RIG_DIR=$RIG_DIR
export XDG_RUNTIME_DIR=$RUN_DIR
export PULSE_SERVER=unix:$SOCK
ENV

# 3. the daemon
if ! pactl info >/dev/null 2>&1; then
    log "starting pulseaudio"
    pulseaudio --daemonize=yes --exit-idle-time=-1 --disallow-exit=yes --use-pid-file=yes \
        -n -F "$RIG_DIR/rig.pa" --log-target="file:$RIG_DIR/pulseaudio.log" --log-level=notice
    for _ in $(seq 50); do pactl info >/dev/null 2>&1 && break; sleep 0.1; done
fi
pactl info >/dev/null
for d in rig_speaker rig_micfeed; do
    pactl list short sinks | grep -qw "$d" || { log "sink $d missing"; exit 1; }
done
pactl list short sources | grep -qw rig_mic || { log "source rig_mic missing"; exit 1; }

# An idle null sink renders in 2 s blocks, so a new stream would stall 0-2 s before its first
# callback: one 10 ms reader on each monitor keeps the sinks ticking for the whole run.
for src in rig_speaker.monitor rig_mic; do
    pidf=$RIG_DIR/keepalive-$src.pid
    if [ -e "$pidf" ] && kill -0 "$(cat "$pidf")" 2>/dev/null; then continue; fi
    nohup pacat --record --device="$src" --latency-msec=10 --raw >/dev/null 2>>"$RIG_DIR/keepalive.log" &
    echo $! > "$pidf"
done
for _ in $(seq 50); do
    [ "$(pactl list short source-outputs | grep -c protocol-native || true)" -ge 2 ] && break
    sleep 0.1
done
sleep 0.3

# 4. fixture: a spoken sentence
[ -s "$RIG_DIR/speech.wav" ] || espeak-ng -v en-us -s 150 -w "$RIG_DIR/speech.wav" \
    "Hello, this is a test of the microphone capture path. The quick brown fox jumps over the lazy dog."

# 5. smoke check and warm-up (the first play after a fresh start is ~0.6 s slow)
"$PYTHON" - <<'PY'
import numpy as np
import sounddevice as sd

names = [d["name"] for d in sd.query_devices()]
assert "default" in names and "rig_speaker_monitor" in names, names
assert sd.default.device[0] >= 0 and sd.default.device[1] >= 0, sd.default.device
with sd.InputStream(device=names.index("rig_speaker_monitor"), samplerate=24000, channels=1, dtype="int16"):
    sd.play(np.zeros(12000, np.int16), 24000, blocking=True)
PY
log "ready: . $RIG_DIR/rig.env"
