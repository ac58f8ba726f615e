"""The measurement's own floor: CPU of a process holding only the bench's simulated sound card, then with a
bare asyncio loop woken once per 20 ms block beside it (what any client sending 20 ms blocks as they come
cannot go below on this machine).

    .venv/bin/python -m bench.floor [--seconds 15.52]

The sound card is the one every client's process gets (`bench.devices`: a microphone and a speaker device
thread on 20 ms schedules, the load plan's microphone script); nothing reads or writes it. The figures are the
process's CPU time over the window as % of one core.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time

from bench import plans
from bench.analysis import DeviceLog
from bench.devices import PERIOD_S, BlockingMic, BlockingSpeaker


def floor_pct(seconds: float) -> dict[str, float]:
    """{"sound_card": %, "sound_card_and_loop": %} of one core."""
    log = DeviceLog()
    mic, speaker = BlockingMic(plans.load(False).mic_script(), log), BlockingSpeaker(log)
    mic.start()
    speaker.start()
    try:
        time.sleep(2.0)  # a measurement window, not synchronisation: let the device threads settle
        started_cpu, started = time.process_time(), time.monotonic()
        time.sleep(seconds)  # the measurement window
        alone = 100 * (time.process_time() - started_cpu) / (time.monotonic() - started)
        with_loop = asyncio.run(_loop_woken_every_block(seconds))
    finally:
        mic.stop()
        speaker.stop()
    return {"sound_card": round(alone, 2), "sound_card_and_loop": round(with_loop, 2)}


async def _loop_woken_every_block(seconds: float) -> float:
    loop = asyncio.get_running_loop()
    started_cpu, started = time.process_time(), time.monotonic()
    due = loop.time()
    while time.monotonic() - started < seconds:
        due += PERIOD_S
        await asyncio.sleep(max(0.0, due - loop.time()))
    return 100 * (time.process_time() - started_cpu) / (time.monotonic() - started)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.floor", description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=plans.LOAD_CYCLE_S * 4)
    args = parser.parse_args(argv)
    print(json.dumps(floor_pct(args.seconds)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
