# mypy: disable-error-code="import-not-found"
"""Pipecat's Gemini Live service with its local audio transport, as a bench client (its own venv).

    bench/.baselines/pipecat/bin/python -m bench.baselines.pipecat_agent --base-url URL --ca-file PEM --plan NAME
        [--quick] [--agents N] [--out LOG.json]

The pipeline is Pipecat's own quick-start shape: `LocalAudioTransport` input → `GeminiLiveLLMService` →
output. PyAudio is swapped for the bench's simulated sound card (`FakePyAudio`) so every client hears the
same audio at the same pace: the input callback runs every 20 ms as PortAudio's would, and the output
stream's blocking `write` drains on the same clock as the quick-start's. The service is pointed at the
emulator through its `http_options` (base URL, and the emulator's CA via `async_client_args`).
Pipecat needs a google-genai release other than the runtime's pin, hence the separate interpreter (made by
`python -m bench --setup-baselines`, `bench.baselines.environment`); this module imports only the standard
library, numpy and `bench` modules that share no code with `runtime`.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import ssl
import sys
import time
from pathlib import Path
from typing import Any

from bench import plans
from bench.analysis import DeviceLog
from bench.devices import BlockingSpeaker, DeviceClock, MicScript

MODEL = "models/gemini-2.5-flash-native-audio-preview-12-2025"
PA_INT16 = 8


class FakeInStream:
    """A PyAudio callback input stream on the bench's device clock."""

    def __init__(self, script: MicScript, log: DeviceLog, frames: int, callback: Any) -> None:
        self.script, self.log, self.frames, self.callback = script, log, frames, callback
        self._next = 0
        self._clock = DeviceClock(self._capture, period_s=frames / 16_000, name="bench-mic")

    def _capture(self) -> None:
        block = self.script.block(self._next, self.frames)
        self.log.mic_ready[self._next] = time.monotonic()
        self._next += 1
        self.callback(block, self.frames, None, 0)

    def start_stream(self) -> None:
        self._clock.start()

    def stop_stream(self) -> None:
        self._clock.stop()

    def close(self) -> None:
        self._clock.stop()


class FakeOutStream:
    """A PyAudio blocking output stream: the quick-start's simulated speaker."""

    def __init__(self, speaker: BlockingSpeaker) -> None:
        self.speaker = speaker

    def write(self, data: bytes) -> None:
        self.speaker.write(data)

    def start_stream(self) -> None:
        self.speaker.start()

    def stop_stream(self) -> None:
        self.speaker.stop()

    def close(self) -> None:
        self.speaker.stop()


class FakePyAudio:
    """Just what `pipecat.transports.local.audio` calls on a `pyaudio.PyAudio`."""

    def __init__(self, script: MicScript, log: DeviceLog, speaker: BlockingSpeaker) -> None:
        self.script, self.log, self.speaker = script, log, speaker

    def get_format_from_width(self, width: int) -> int:
        return PA_INT16

    def open(self, **kwargs: Any) -> FakeInStream | FakeOutStream:
        if kwargs.get("input"):
            return FakeInStream(self.script, self.log, int(kwargs["frames_per_buffer"]), kwargs["stream_callback"])
        return FakeOutStream(self.speaker)

    def terminate(self) -> None:
        pass


def build_task(args: argparse.Namespace, plan: plans.Plan, log: DeviceLog) -> tuple[Any, Any]:
    """(pipeline task, LLM service) for one agent."""
    from google.genai.types import HttpOptions
    from pipecat.frames.frames import LLMRunFrame
    from pipecat.pipeline.pipeline import Pipeline
    from pipecat.pipeline.task import PipelineParams, PipelineTask
    from pipecat.processors.aggregators.llm_context import LLMContext
    from pipecat.processors.aggregators.llm_response_universal import LLMContextAggregatorPair
    from pipecat.services.google.gemini_live.llm import GeminiLiveLLMService
    from pipecat.transports.local.audio import LocalAudioTransport, LocalAudioTransportParams

    speaker = BlockingSpeaker(log)
    transport = LocalAudioTransport(
        LocalAudioTransportParams(
            audio_in_enabled=True, audio_out_enabled=True, audio_in_sample_rate=16_000, audio_out_sample_rate=24_000
        )
    )
    transport._pyaudio = FakePyAudio(plan.mic_script(), log, speaker)
    context = ssl.create_default_context(cafile=args.ca_file)
    llm = GeminiLiveLLMService(
        api_key="bench-key",
        settings=GeminiLiveLLMService.Settings(model=MODEL),
        http_options=HttpOptions(base_url=args.base_url, api_version="v1beta", async_client_args={"ssl": context}),
    )
    aggregators = LLMContextAggregatorPair(LLMContext())
    pipeline = Pipeline([transport.input(), aggregators.user(), llm, transport.output(), aggregators.assistant()])
    params = PipelineParams(audio_in_sample_rate=16_000, audio_out_sample_rate=24_000)
    task = PipelineTask(pipeline, params=params, enable_rtvi=False)
    await_run = task.queue_frames([LLMRunFrame()])  # Pipecat's examples start the conversation this way
    return (task, await_run), llm


async def wait_connected(llm: Any, timeout_s: float) -> None:
    """Polls the service's session (Pipecat has no public "connected" hook); stamps are ±10 ms."""
    deadline = time.monotonic() + timeout_s
    while getattr(llm, "_session", None) is None:
        if time.monotonic() > deadline:
            raise TimeoutError("the Gemini Live service did not connect")
        await asyncio.sleep(0.01)


async def run(args: argparse.Namespace) -> DeviceLog:
    from pipecat.pipeline.runner import PipelineRunner

    plan: plans.Plan = getattr(plans, args.plan)(args.quick)
    logs = [DeviceLog() for _ in range(args.agents)]
    start = time.monotonic()
    built = [build_task(args, plan, log) for log in logs]
    runner = PipelineRunner(handle_sigint=False)
    runs = [asyncio.create_task(runner.run(task)) for (task, _), _ in built]
    for (_, queue_run), _ in built:
        await queue_run
    await asyncio.wait_for(asyncio.gather(*(wait_connected(llm, 60) for _, llm in built)), timeout=90)
    print("ready", flush=True)
    duration_s = plan.duration_s if args.out else None
    remaining_s = None if duration_s is None else max(0.0, start + duration_s - time.monotonic())
    await asyncio.wait(runs, timeout=remaining_s)
    if runs[0].done() and runs[0].exception() is not None:
        logs[0].ended = f"{type(runs[0].exception()).__name__}: {runs[0].exception()}"[:300]
    for (task, _), _ in built:
        await task.cancel()
    await asyncio.wait(runs, timeout=5)
    logs[0].t_start, logs[0].t_end = start, time.monotonic()
    return logs[0]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.baselines.pipecat_agent")
    parser.add_argument("--base-url", required=True)
    parser.add_argument("--ca-file", required=True)
    parser.add_argument("--plan", choices=["conversation", "handover", "load"], required=True)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--agents", type=int, default=1)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    try:
        from loguru import logger

        logger.remove()
        logger.add(sys.stderr, level="WARNING")
    except ImportError:
        pass
    log = asyncio.run(run(args))
    if args.out:
        args.out.write_text(json.dumps(log.to_json()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
