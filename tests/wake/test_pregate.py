"""The energy pre-gate: the detector sleeps in a silent room, and the real models still hear the wake word
said after a long silence; a quiet room that is not silent keeps them running. Also: microWakeWord's model
step (`runtime/wake/micro.py`) gives the library's own scores."""

from __future__ import annotations

import shutil
from pathlib import Path

import anyio
import numpy as np
import pytest

from runtime.audio.files import WavFileIn
from runtime.audio.ports import ready_frames
from runtime.wake.detector import MicroWakeDetector, OpenWakeDetector, ThresholdDetector
from runtime.wake.gate import WakeGate
from runtime.wake.lifecycle import ConversationState, block_dbfs
from runtime.wake.micro import MicroScores
from runtime.wake.mute import MutedAudioIn, MuteSwitch
from runtime.wake.pregate import EnergyPreGate
from tests.wake.gating import run_gate
from tests.wake.scenes import BLOCK, RATE, Scene, WavMic, espeak, noise

pymicro = pytest.importorskip("pymicro_wakeword")
pytest.importorskip("pyopen_wakeword")
needs_espeak = pytest.mark.skipif(
    shutil.which("espeak-ng") is None, reason="needs espeak-ng (apt-get install espeak-ng)"
)

BACKENDS = {"micro": MicroWakeDetector, "open": OpenWakeDetector}
PHRASES = {"okay_nabu": "Okay Nabu", "hey_jarvis": "Hey Jarvis", "alexa": "Alexa"}
VOICES = [("en-us", 160), ("en-us+m7", 190), ("en-gb+m3", 160), ("en-us+f3", 130)]
GAP_S = 8.0


def pcm(samples: np.ndarray) -> bytes:
    return (np.clip(samples, -1, 1) * 32767).astype("<i2").tobytes()


def blocks(audio: bytes, size: int = BLOCK * 2) -> list[bytes]:
    return [audio[i : i + size] for i in range(0, len(audio), size)]


# --- the pre-gate's logic ---------------------------------------------------------------------------------


def test_silence_stops_the_detector_after_the_hang_time_and_sound_resumes_it_with_the_preroll() -> None:
    gate = EnergyPreGate(hang_s=0.5, preroll_s=0.3)
    quiet = [bytes([index % 256, 0]) * BLOCK for index in range(100)]  # distinct blocks, levels given below
    fed = [gate.admit(block, -90.0) for block in quiet]
    assert all(admitted.audio == block for admitted, block in zip(fed[:25], quiet, strict=False))  # 0.5 s
    assert all(admitted.audio == b"" for admitted in fed[25:]) and gate.skipping
    assert gate.skipped_frames == 75 * BLOCK
    loud = b"\x00\x40" * BLOCK
    resumed = gate.admit(loud, -20.0)
    assert resumed.resumed and not gate.skipping
    assert resumed.audio == b"".join(quiet[-14:]) + loud  # 0.3 s of pre-roll (15 blocks) ending in the block
    assert gate.admit(loud, -20.0).audio == loud and not gate.admit(loud, -20.0).resumed


def test_levels_between_the_two_thresholds_neither_stop_nor_resume_it() -> None:
    gate = EnergyPreGate(open_dbfs=-60.0, close_dbfs=-64.0, hang_s=0.2)
    block = b"\x01\x00" * BLOCK
    assert all(gate.admit(block, -62.0).audio for _ in range(200))  # hovering above close: keeps running
    for _ in range(10):
        gate.admit(block, -70.0)
    assert gate.skipping
    assert all(gate.admit(block, -62.0).audio == b"" for _ in range(50))  # below open: keeps skipping
    assert gate.admit(block, -60.0).resumed


def test_reset_starts_it_running_and_a_bad_hysteresis_is_refused() -> None:
    gate = EnergyPreGate(hang_s=0.02)
    gate.admit(b"\x00\x00" * BLOCK, -120.0)
    assert gate.skipping
    gate.reset()
    assert not gate.skipping and gate.admit(b"\x00\x00" * BLOCK, -120.0).audio
    with pytest.raises(ValueError):
        EnergyPreGate(open_dbfs=-70.0, close_dbfs=-60.0)


# --- the real models ----------------------------------------------------------------------------------------


def test_micro_scores_are_the_librarys_own() -> None:
    from pymicro_wakeword import MicroWakeWord, MicroWakeWordFeatures, Model

    spoken = espeak("Okay Nabu")
    scene = Scene(5.0, noise_dbfs=-40.0)
    if spoken is not None:
        scene.add(2.0, spoken)
    audio = scene.pcm()
    engine, features = MicroWakeWord.from_builtin(Model("okay_nabu")), MicroWakeWordFeatures()
    theirs = [p for chunk in blocks(audio) for f in features.process_streaming(chunk)
              if (p := engine.process_streaming_prob(f)) is not None]
    source = MicroScores(MicroWakeWord.from_builtin(Model("okay_nabu")), MicroWakeWordFeatures())
    ours = [score for chunk in blocks(audio) for score in source.scores(chunk)]
    assert len(ours) == len(theirs) > 100 and max(theirs) > 0.1
    assert ours == pytest.approx(theirs, abs=1e-9)


def after_long_silences(phrase: str) -> tuple[bytes, list[tuple[float, float]]]:
    """The phrase in each voice, each after GAP_S of a silent room (-80 dBFS noise), and where each is."""
    clips = [espeak(phrase, voice, speed) for voice, speed in VOICES]
    scene = Scene((GAP_S + 2.0) * len(clips) + 2.0, noise_dbfs=-80.0)
    spans = []
    for index, clip in enumerate(clips):
        assert clip is not None
        at_s = GAP_S + (GAP_S + 2.0) * index
        spans.append((at_s, scene.add(at_s, clip)))
    return scene.pcm(), spans


def peaks(detector: ThresholdDetector, audio: bytes, spans: list[tuple[float, float]]) -> list[float]:
    hits = [(hit.at_s, hit.score) for chunk in blocks(audio) for hit in detector.process(chunk, block_dbfs(chunk))]
    return [max((score for at_s, score in hits if start < at_s <= end + 2.0), default=0.0) for start, end in spans]


@needs_espeak
@pytest.mark.parametrize("backend", BACKENDS)
def test_the_wake_word_after_a_long_silence_is_heard_as_by_a_detector_that_never_stopped(backend: str) -> None:
    report = []
    for model, phrase in PHRASES.items():
        audio, spans = after_long_silences(phrase)
        make = BACKENDS[backend]
        always = make(model, threshold=0.001, refractory_s=0.0, pregate=False)
        gated = make(model, threshold=0.001, refractory_s=0.0)
        cutoff = make(model).threshold
        expected, got = peaks(always, audio, spans), peaks(gated, audio, spans)
        assert gated.pregate is not None
        assert gated.pregate.resumes == len(spans)  # it slept through every silence and woke for every phrase
        assert gated.pregate.skipped_frames > 0.8 * GAP_S * RATE * len(spans)
        rounded = [[round(p, 2) for p in scores] for scores in (expected, got)]
        report.append(f"{model}: always running {rounded[0]}, pre-gated {rounded[1]}")
        assert [p > cutoff for p in got] == [p > cutoff for p in expected], report[-1]
        # the same phrases wake it; scores differ a little (the detector starts afresh on the pre-roll)
    print(f"\n{backend}, peak score per phrase after {GAP_S} s of silence:\n  " + "\n  ".join(report))


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_quiet_room_that_is_not_silent_keeps_the_detector_running(backend: str) -> None:
    detector = BACKENDS[backend]("okay_nabu")
    for chunk in blocks(pcm(noise(20.0, -55.0))):  # a fan, a fridge: above the floor, far below speech
        detector.process(chunk, block_dbfs(chunk))
    assert detector.pregate is not None and detector.pregate.skipped_frames == 0


@needs_espeak
@pytest.mark.anyio
async def test_okay_nabu_after_half_a_minute_of_silence_opens_the_gate_with_its_preroll(tmp_path: Path) -> None:
    wake, request = espeak("Okay Nabu"), espeak("turn on the kitchen lights", speed=170)
    assert wake is not None and request is not None
    scene = Scene(40.0, noise_dbfs=-80.0)
    wake_end = scene.add(30.0, wake, "wake")
    scene.add(wake_end + 0.3, request, "request")
    detector = MicroWakeDetector("okay_nabu")
    gate = WakeGate(WavMic(scene.write(tmp_path / "mic.wav")), detector, idle_timeout_s=2.0)
    run = await run_gate(gate, scene)
    [woke] = run.events_of(ConversationState.CONVERSATION)
    [(start, _end)] = run.segments()
    assert wake_end < woke.at_s < wake_end + 1.0
    assert start <= scene.marks["request"], "the gate's pre-roll still holds the start of the request"
    assert detector.pregate is not None and detector.pregate.skipped_frames > 25 * RATE


# --- the gate naps in a silent room (real time: a WAV-file microphone at its real pace) ---------------------


@needs_espeak
@pytest.mark.anyio
async def test_in_a_silent_room_the_gate_reads_in_bursts_and_still_wakes_on_the_word(tmp_path: Path) -> None:
    wake = espeak("Okay Nabu")
    assert wake is not None
    scene = Scene(6.0, noise_dbfs=-80.0)
    wake_end = scene.add(3.5, wake, "wake")
    mic = WavFileIn(scene.write(tmp_path / "mic.wav"))
    gate = WakeGate(mic, MicroWakeDetector("okay_nabu"), idle_timeout_s=1.0)
    woke = anyio.Event()
    gate.add_listener(lambda event: woke.set() if event.state is ConversationState.CONVERSATION else None)
    await gate.open()
    with anyio.fail_after(60):  # generous: the scene plays at real time (6 s)
        async with anyio.create_task_group() as tasks:

            async def reader() -> None:
                while True:
                    await gate.read()

            tasks.start_soon(reader)
            await woke.wait()
            tasks.cancel_scope.cancel()
    await gate.close()
    assert gate.naps >= 5  # 3 s of silence, minus the pre-gate's hang second, read in bursts
    assert wake_end < gate.now_s < wake_end + 1.0  # woke on the word, every block read in order


@pytest.mark.anyio
async def test_microphones_say_what_they_hold_and_one_that_cannot_is_read_block_by_block(tmp_path: Path) -> None:
    path = Scene(1.0).write(tmp_path / "mic.wav")
    mic = WavFileIn(path)
    muted = MutedAudioIn(mic, MuteSwitch())
    assert ready_frames(mic) == 0 and ready_frames(muted) == 0  # not open
    await muted.open()
    with anyio.fail_after(10):
        while ready_frames(mic) < BLOCK:  # the file "captures" at real time from open()
            await anyio.sleep(0.005)
    assert ready_frames(muted) >= BLOCK  # what the file holds, through the mute switch
    await muted.read()
    await muted.close()
    assert ready_frames(WavMic(path)) is None  # the tests' audio-time microphone cannot tell: no naps


def test_a_nap_never_outlasts_half_the_microphone_buffer() -> None:
    from runtime.wake.gate import NAP_BLOCKS, nap_blocks_for

    assert nap_blocks_for(2000, 20) == NAP_BLOCKS == 10  # 200 ms naps with the default 2 s buffer
    assert nap_blocks_for(200, 20) == 5  # the shortest buffer the agent file allows: 100 ms naps
    assert nap_blocks_for(200, 100) == 1  # never no nap at all: one block
