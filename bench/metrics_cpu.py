"""The CPU `runtime run --metrics` costs one streaming agent: the runtime's client with and without the metrics
recorder (its page rendered every 5 s), measured in alternating rounds against one `runtime emulate`.

    python -m bench.metrics_cpu [--rounds 4] [--quick]

Prints each round's median CPU (% of one core) of both, and the median difference. With metrics off nothing of
them is imported or called (`runtime.daemon.app.metering_for`), so "off" is the plain runtime client.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time

from bench.load import cpu_windows, emulator_process, measure_agents


def render_cost(renders: int = 200) -> str:
    """What a scrape costs the daemon (the one thing metrics add that is not a few counter increments per turn):
    CPU per page of one agent, and its share of a core at the bench's and Prometheus' usual intervals."""
    from prometheus_client import generate_latest

    from runtime.daemon.events import AgentState, AgentStateChanged
    from runtime.daemon.metrics import MetricsRecorder, build_registry
    from runtime.live.events import SessionState, ToolOutcome, Usage

    recorder = MetricsRecorder()
    registry = build_registry(recorder, dict)
    recorder.apply(AgentStateChanged("bench0", AgentState.RUNNING))
    recorder.state("bench0", SessionState.READY)
    recorder.tool_call("bench0", ToolOutcome("set_timer", "c1", {}, {}, 0.01, True))
    recorder.usage("bench0", Usage(100, 60, 160, {"audio": 60}))
    started = time.process_time()
    for _ in range(renders):
        generate_latest(registry)
    page_ms = 1000 * (time.process_time() - started) / renders
    return (f"one page render: {page_ms:.2f} ms of CPU = {page_ms / 50:.3f} % of one core scraped every 5 s, "
            f"{page_ms / 150:.4f} % every 15 s")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.metrics_cpu")
    parser.add_argument("--rounds", type=int, default=4, help="alternating off/on rounds (default 4)")
    parser.add_argument("--quick", action="store_true", help="three CPU windows per measurement instead of five")
    args = parser.parse_args(argv)
    windows = cpu_windows(args.quick)
    off: list[float] = []
    on: list[float] = []
    with emulator_process() as endpoint:
        for round_number in range(args.rounds):
            kinds = ("runtime", "runtime-metrics") if round_number % 2 == 0 else ("runtime-metrics", "runtime")
            for kind in kinds:
                pcts, _rss, _connect = measure_agents(kind, 1, endpoint, windows)
                (on if kind == "runtime-metrics" else off).append(statistics.median(pcts))
            print(f"round {round_number + 1}: metrics off {off[-1]:.2f} %, on {on[-1]:.2f} % of one core", flush=True)
    print(render_cost(), flush=True)
    differences = [b - a for a, b in zip(off, on, strict=True)]
    print(f"median: off {statistics.median(off):.2f} %, on {statistics.median(on):.2f} %, "
          f"difference {statistics.median(differences):+.2f} % of one core (per round: "
          + ", ".join(f"{d:+.2f}" for d in differences) + ")")
    return 0


if __name__ == "__main__":
    sys.exit(main())
