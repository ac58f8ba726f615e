"""One bench client in its own process: the runtime's `AgentSession` or the quick-start loop, N agents.

    python -m bench.client {runtime,quickstart} --base-url URL --ca-file PEM --plan NAME [--quick]
        [--agents N] [--out LOG.json]

Each agent gets its own simulated microphone and speaker (`bench.devices`). With `--out`, agent 0's device
log is written there when the plan's duration is over. With `--agents`, the process prints `ready` once
every session is connected and runs until killed (the parent measures CPU and memory meanwhile).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import sys
import tempfile
import time
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any

from bench import plans
from bench.analysis import DeviceLog
from bench.baselines import quickstart
from bench.devices import BlockingMic, BlockingSpeaker

MODEL = "gemini-2.5-flash-native-audio-preview-12-2025"

SCRAPE_INTERVAL_S = 5.0
"""How often the metered client renders its metrics page (Prometheus scrapes every 15 s to 1 min)."""

BLOCK_MS = {"runtime-40ms": 40}
"""Client kinds whose agent file sets `audio.input.block_ms` (the default is 20): the sound card then calls
back every 40 ms with two numbered 20 ms blocks, and one message carries both (`bench.ports.microphone`)."""

AgentFactory = Callable[[int, DeviceLog, asyncio.Event], Coroutine[Any, Any, str]]


def runtime_agent(args: argparse.Namespace, plan: plans.Plan, state_root: Path) -> AgentFactory:
    """The runtime's `AgentSession` on its own sounddevice ports over the simulated stream (`bench.ports`)."""
    import anyio

    from bench import ports
    from runtime.agentfile.spec import AgentSpec
    from runtime.daemon.events import AgentState, AgentStateChanged
    from runtime.live.endpoint import Endpoint
    from runtime.live.session import AgentSession

    block_ms = BLOCK_MS.get(args.kind, 20)
    spec = AgentSpec.model_validate({"model": MODEL, "audio": {"echo": "none", "input": {"block_ms": block_ms}}})
    endpoint = Endpoint(base_url=args.base_url, ca_file=Path(args.ca_file), api_key="bench-key")
    sessions: dict[str, Any] = {}
    recorder, scrape = metering(sessions) if args.kind == "runtime-metrics" else (None, None)

    async def agent(number: int, log: DeviceLog, ready: asyncio.Event) -> str:
        session = AgentSession(
            spec,
            name=f"bench{number}",
            base_dir=state_root,
            endpoint=endpoint,
            audio_in=ports.microphone(
                plan.mic_script(), log, block_frames=block_ms * 16, buffer_ms=spec.audio.input.buffer_ms
            ),
            audio_out=ports.speaker(log, spec.audio.output.buffer_ms, spec.audio.output.fade_ms),
            state_dir=state_root / f"state{number}",
            events=recorder,
        )
        if recorder is not None:
            sessions[session.name] = session
            recorder.apply(AgentStateChanged(session.name, AgentState.RUNNING))
        async with anyio.create_task_group() as group:
            await group.start(session.run)
            ready.set()
            if scrape is not None and number == 0:
                group.start_soon(scrape)
            await anyio.sleep_forever()
        return ""

    return agent


def metering(sessions: dict[str, Any]) -> tuple[Any, Any]:
    """`runtime run --metrics`'s recorder as the sessions' events, and a render of the page every 5 s."""
    import anyio
    from prometheus_client import generate_latest

    from runtime.daemon.metrics import MetricsRecorder, build_registry

    metrics = MetricsRecorder()
    registry = build_registry(metrics, lambda: sessions)

    async def scrape_every_5_s() -> None:
        while True:
            await anyio.sleep(SCRAPE_INTERVAL_S)
            generate_latest(registry)

    return metrics, scrape_every_5_s


def quickstart_agent(args: argparse.Namespace, plan: plans.Plan) -> AgentFactory:
    connection = quickstart.Connection(base_url=args.base_url, ca_file=args.ca_file, model=MODEL)

    async def agent(number: int, log: DeviceLog, ready: asyncio.Event) -> str:
        mic, speaker = BlockingMic(plan.mic_script(), log), BlockingSpeaker(log)
        mic.start()
        speaker.start()
        try:
            log.ended = await quickstart.run_for(connection, mic, speaker, duration_s=1e9, on_connected=ready.set)
            ready.set()
            await asyncio.Event().wait()  # the user keeps talking to an app whose session ended
            return log.ended
        finally:
            mic.stop()
            speaker.stop()

    return agent


async def run_agents(factory: AgentFactory, count: int, duration_s: float | None) -> DeviceLog:
    """Runs `count` agents; prints `ready` when all are connected; stops after `duration_s` (None: never)."""
    logs = [DeviceLog() for _ in range(count)]
    readies = [asyncio.Event() for _ in range(count)]
    start = time.monotonic()
    for log in logs:
        log.t_start = start
    tasks = [asyncio.create_task(factory(n, logs[n], readies[n])) for n in range(count)]
    await asyncio.wait_for(asyncio.gather(*(ready.wait() for ready in readies)), timeout=60)
    print("ready", flush=True)
    remaining_s = None if duration_s is None else max(0.0, start + duration_s - time.monotonic())
    await asyncio.wait(tasks, timeout=remaining_s)
    for task in tasks:
        task.cancel()
    first = (await asyncio.gather(*tasks, return_exceptions=True))[0]
    if isinstance(first, Exception):
        logs[0].ended = f"{type(first).__name__}: {first}"[:300]
    logs[0].t_end = time.monotonic()
    return logs[0]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.client")
    parser.add_argument("kind", choices=["runtime", "runtime-metrics", "runtime-40ms", "quickstart"])
    parser.add_argument("--base-url", required=True)
    parser.add_argument("--ca-file", required=True)
    parser.add_argument("--plan", choices=["conversation", "handover", "load"], required=True)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--agents", type=int, default=1)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    plan: plans.Plan = getattr(plans, args.plan)(args.quick)
    duration_s = plan.duration_s if args.out else None
    with tempfile.TemporaryDirectory(prefix="bench-client-") as state:
        runtime_kind = args.kind.startswith("runtime")
        factory = runtime_agent(args, plan, Path(state)) if runtime_kind else quickstart_agent(args, plan)
        log = asyncio.run(run_agents(factory, args.agents, duration_s))
    if args.out:
        args.out.write_text(json.dumps(log.to_json()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
