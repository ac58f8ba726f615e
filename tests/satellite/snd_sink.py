"""A satellite's speaker for `wyoming-satellite --snd-command`: appends what it is given to a raw file and
logs `MONOTONIC_S BYTES` per write beside it (`FILE.log`), so a test can replay the speaker's play clock.
wyoming-satellite starts it for each reply and closes its stdin after `audio-stop`.

    python snd_sink.py FILE.raw
"""

from __future__ import annotations

import os
import sys
import time


def main() -> None:
    path = sys.argv[1]
    with open(path, "ab") as out, open(path + ".log", "a") as log:
        while True:
            data = os.read(0, 65536)
            if not data:
                return
            now = time.monotonic()
            out.write(data)
            out.flush()
            log.write(f"{now!r} {len(data)}\n")
            log.flush()


if __name__ == "__main__":
    main()
