"""A wake-word program for `wyoming-satellite --wake-command`: 16 kHz mono int16 on stdin, a line with the
wake word's name on stdout when it "hears" it. Here: 100 ms of loud audio after at least 300 ms of quiet
(the test's "speech" bursts are the wake word; wyoming 1.4.1 `WakeProcessAsyncClient` reads one line per
detection and must never see end-of-file, so the program runs until its stdin closes)."""

from __future__ import annotations

import sys

import numpy as np

FRAME_BYTES = 320 * 2  # 20 ms
LOUD_RMS = 1000.0


def main() -> None:
    loud_frames, quiet_frames, armed = 0, 0, True
    source = sys.stdin.buffer
    while True:
        frame = source.read(FRAME_BYTES)
        if len(frame) < FRAME_BYTES:
            return
        rms = float(np.sqrt(np.mean(np.frombuffer(frame, dtype="<i2").astype(np.float32) ** 2)))
        if rms > LOUD_RMS:
            loud_frames, quiet_frames = loud_frames + 1, 0
        else:
            loud_frames, quiet_frames = 0, quiet_frames + 1
        armed = armed or quiet_frames >= 15
        if armed and loud_frames >= 5:
            print("okay_stub", flush=True)
            armed = False


if __name__ == "__main__":
    main()
