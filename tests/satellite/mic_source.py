"""A satellite's microphone for `wyoming-satellite --mic-command`: a raw PCM file at real-time pace, then
silence forever (like a microphone in a quiet room). Also writes when the file started, for the bench.

    python mic_source.py FILE.raw RATE_HZ CHANNELS [STARTED_FILE] [CHUNK_FRAMES]
"""

from __future__ import annotations

import contextlib
import sys
import time
from pathlib import Path

CHUNK_FRAMES = 1024  # wyoming-satellite's --mic-command-samples-per-chunk default


def main() -> None:
    path, rate, channels = Path(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
    started_file = Path(sys.argv[4]) if len(sys.argv) > 4 and sys.argv[4] != "-" else None
    chunk_frames = int(sys.argv[5]) if len(sys.argv) > 5 else CHUNK_FRAMES
    pcm = path.read_bytes()
    chunk_bytes = chunk_frames * 2 * channels
    out = sys.stdout.buffer
    start = time.monotonic()
    if started_file is not None:
        started_file.write_text(repr(start))
    sent = 0
    while True:
        chunk = pcm[sent * chunk_bytes : (sent + 1) * chunk_bytes]
        chunk += bytes(chunk_bytes - len(chunk))
        due = start + (sent + 1) * chunk_frames / rate  # a chunk exists once its last frame was captured
        time.sleep(max(0.0, due - time.monotonic()))
        out.write(chunk)
        out.flush()
        sent += 1


if __name__ == "__main__":
    with contextlib.suppress(BrokenPipeError, KeyboardInterrupt):
        main()
