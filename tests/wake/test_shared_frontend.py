"""The wake word's feature front end once per shared microphone: every agent's model gets exactly the scores
it would get from a front end of its own, and the front end runs once per block, not once per agent."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import anyio
import pytest

from runtime.audio.shared import CaptureTap, DeviceHub
from runtime.wake.detector import MicroWakeDetector, OpenWakeDetector, ThresholdDetector
from runtime.wake.frontend import SharedFrontEnd, shared_features_for
from tests.wake.scenes import BLOCK, EndOfAudio, Scene, WavMic, espeak

pytestmark = [
    pytest.mark.anyio,
    pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="needs espeak-ng (apt-get install espeak-ng)"),
]
pytest.importorskip("pymicro_wakeword")
pytest.importorskip("pyopen_wakeword")

FACTORIES: dict[str, Any] = {"micro": MicroWakeDetector, "open": OpenWakeDetector}


def every_step(backend: str, model: str, features: Any = None) -> ThresholdDetector:
    """A detection per model step, so the whole score stream can be compared."""
    return FACTORIES[backend](model, threshold=0.0001, refractory_s=0.0, features=features)


def spoken_scene(tmp_path: Path) -> Path:
    nabu, jarvis = espeak("Okay Nabu"), espeak("Hey Jarvis")
    assert nabu is not None and jarvis is not None
    scene = Scene(6.0, noise_dbfs=-45.0)
    scene.add(1.0, nabu)
    scene.add(3.5, jarvis)
    return scene.write(tmp_path / "mic.wav")


async def scores_alone(path: Path, backend: str, model: str, block_frames: int) -> list[tuple[float, float]]:
    mic, detector = WavMic(path, block_frames=block_frames), every_step(backend, model)
    await mic.open()
    hits = []
    try:
        while True:
            hits += [(hit.at_s, hit.score) for hit in detector.process(await mic.read())]
    except EndOfAudio:
        return hits


async def scores_shared(
    path: Path, backend: str, agents: dict[str, tuple[str, int]]
) -> tuple[dict[str, list[tuple[float, float]]], SharedFrontEnd]:
    """Each agent (model, block frames) reads its own tap of one microphone, its detector on the shared front end."""
    mic, hub = WavMic(path), DeviceHub()
    hits: dict[str, list[tuple[float, float]]] = {name: [] for name in agents}
    taps: dict[str, CaptureTap] = {}
    detectors: dict[str, ThresholdDetector] = {}
    for name, (model, block_frames) in agents.items():
        taps[name] = hub.capture("input:0:mic", lambda: mic, block_frames=block_frames, agent=name)
        detectors[name] = every_step(backend, model, shared_features_for(taps[name])(backend))
        await taps[name].open()

    async def listen(name: str) -> None:
        try:
            while True:
                hits[name] += [(hit.at_s, hit.score) for hit in detectors[name].process(await taps[name].read())]
        except EndOfAudio:
            return

    async with anyio.create_task_group() as tg:
        for name in agents:
            tg.start_soon(listen, name)
    front_end = next(iter(taps.values())).device.companions[f"wake-front-end:{backend}"]
    assert isinstance(front_end, SharedFrontEnd)
    return hits, front_end


@pytest.mark.parametrize("backend", ["micro", "open"])
async def test_agents_sharing_a_front_end_get_the_scores_of_their_own(backend: str, tmp_path: Path) -> None:
    path = spoken_scene(tmp_path)
    agents = {"kitchen": ("okay_nabu", BLOCK), "house": ("hey_jarvis", BLOCK)}
    shared, front_end = await scores_shared(path, backend, agents)
    for name, (model, block_frames) in agents.items():
        alone = await scores_alone(path, backend, model, block_frames)
        assert shared[name] == alone, f"{name}: the same scores at the same audio times"
    blocks = 6 * 16_000 // BLOCK
    assert front_end.runs <= blocks + 1, "the front end ran once per block, not once per agent"
    print(f"\n{backend}: front end fed {front_end.runs} times for {blocks} blocks and {len(agents)} agents")


async def test_agents_with_different_block_sizes_share_it_too(tmp_path: Path) -> None:
    path = spoken_scene(tmp_path)
    agents = {"kitchen": ("okay_nabu", BLOCK), "house": ("okay_nabu", 2 * BLOCK)}
    shared, _ = await scores_shared(path, "micro", agents)
    alone = await scores_alone(path, "micro", "okay_nabu", BLOCK)
    for name in agents:
        assert [score for _, score in shared[name]] == [score for _, score in alone], f"{name}: the same scores"
        assert all(abs(a - b) <= 2 * BLOCK / 16_000 for (a, _), (b, _) in zip(shared[name], alone, strict=True))
