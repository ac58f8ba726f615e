"""The real detectors: bundled and custom models load, thresholds and refractory periods hold, and the
real models wake on spoken (espeak-ng) phrases, mixed with noise, at 16 kHz."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from runtime.agentfile.spec import WakeWord
from runtime.errors import RuntimeConfigError
from runtime.wake.detector import BUNDLED_MODELS, MicroWakeDetector, OpenWakeDetector, load_detector
from runtime.wake.gate import WakeGate
from runtime.wake.lifecycle import ConversationState
from tests.wake.gating import run_gate
from tests.wake.scenes import BLOCK, RATE, Scene, WavMic, espeak, noise, tone, tone_detector

pymicro = pytest.importorskip("pymicro_wakeword")
pytest.importorskip("pyopen_wakeword")
needs_espeak = pytest.mark.skipif(
    shutil.which("espeak-ng") is None, reason="needs espeak-ng (apt-get install espeak-ng)"
)

BACKENDS = {"micro": MicroWakeDetector, "open": OpenWakeDetector}
PHRASES = {"okay_nabu": "Okay Nabu", "hey_jarvis": "Hey Jarvis", "alexa": "Alexa", "hey_mycroft": "Hey Mycroft"}
VOICES = [("en-us", 160), ("en-us+m7", 190), ("en-gb+m3", 160), ("en-us+f3", 130), ("en-gb-x-rp+f4", 190)]


def pcm(samples: np.ndarray) -> bytes:
    return (np.clip(samples, -1, 1) * 32767).astype("<i2").tobytes()


def feed(detector: object, audio: bytes, block_bytes: int = BLOCK * 2) -> list[float]:
    process = detector.process  # type: ignore[attr-defined]
    return [hit.at_s for i in range(0, len(audio), block_bytes) for hit in process(audio[i : i + block_bytes])]


@pytest.mark.parametrize("model", BUNDLED_MODELS)
@pytest.mark.parametrize("backend", BACKENDS)
def test_every_bundled_model_loads_and_stays_quiet_on_noise(backend: str, model: str) -> None:
    detector = BACKENDS[backend](model)
    assert detector.model == model
    assert feed(detector, pcm(noise(3.0, -40.0))) == []
    detector.close()
    detector.close()


def test_an_unset_threshold_means_the_models_own_cutoff() -> None:
    assert load_detector(WakeWord()).threshold == 0.85  # okay_nabu.json: probability_cutoff
    assert load_detector(WakeWord(model="hey_jarvis")).threshold == 0.97
    assert load_detector(WakeWord(backend="open")).threshold == 0.5
    assert load_detector(WakeWord(threshold=0.6, refractory_s=3)).threshold == 0.6


def test_a_custom_model_loads_from_a_path(tmp_path: Path) -> None:
    models = Path(pymicro.__file__).parent / "models"
    shutil.copy(models / "hey_jarvis.tflite", tmp_path / "hey_jarvis.tflite")
    shutil.copy(models / "hey_jarvis.json", tmp_path / "kitchen.json")
    shutil.copy(models / "alexa.tflite", tmp_path / "computer.tflite")
    assert MicroWakeDetector(str(tmp_path / "kitchen.json")).threshold == 0.97
    bare = MicroWakeDetector(str(tmp_path / "computer.tflite"), threshold=0.8)
    assert (bare.model, bare.threshold) == ("computer", 0.8)
    assert OpenWakeDetector(str(tmp_path / "hey_jarvis.tflite")).model == "hey_jarvis"
    beside_the_agent = load_detector(WakeWord(model="kitchen.json"), base_dir=tmp_path)
    assert beside_the_agent.model == "hey_jarvis"  # the manifest's own name for its model


@pytest.mark.parametrize("model", ["hey_siri", "/nowhere/word.tflite", "notes.txt"])
def test_an_unknown_model_is_a_config_error_with_a_hint(model: str) -> None:
    with pytest.raises(RuntimeConfigError) as error:
        MicroWakeDetector(model)
    assert "okay_nabu" in error.value.render() or "does not exist" in error.value.message


def test_the_refractory_period_is_counted_in_audio_time() -> None:
    scene = Scene(6.0)
    for at_s in (0.5, 1.3, 3.0):
        scene.add(at_s, tone(0.3))
    assert len(feed(tone_detector(refractory_s=1.5), scene.pcm())) == 2
    assert len(feed(tone_detector(refractory_s=0.5), scene.pcm())) == 3


@pytest.mark.parametrize("block_bytes", [2, 333, 640, 4096])
def test_blocks_of_any_size_give_the_same_detections(block_bytes: int) -> None:
    scene = Scene(3.0)
    scene.add(1.0, tone(0.3))
    assert feed(tone_detector(), scene.pcm(), block_bytes) == pytest.approx([1.12], abs=block_bytes / 2 / RATE + 0.011)


def spoken_phrases(phrase: str) -> tuple[bytes, list[tuple[float, float]]]:
    """The phrase in every voice, 3.5 s apart, over noise about 20 dB below the speech; and where each is."""
    clips = [espeak(phrase, voice, speed) for voice, speed in VOICES]
    scene = Scene(3.5 * len(clips) + 1.0, noise_dbfs=-40.0)
    spans = []
    for index, clip in enumerate(clips):
        assert clip is not None
        spans.append((1.0 + 3.5 * index, scene.add(1.0 + 3.5 * index, clip)))
    return scene.pcm(), spans


def phrase_scores(backend: str, model: str) -> tuple[list[float], float, float]:
    """Peak score on each spoken phrase, peak score on the noise between them, and the model's cutoff."""
    audio, spans = spoken_phrases(PHRASES[model])
    cutoff = BACKENDS[backend](model).threshold
    every_step = BACKENDS[backend](model, threshold=0.001, refractory_s=0.0)  # a detection per model step
    hits = [(hit.at_s, hit.score) for i in range(0, len(audio), 640) for hit in every_step.process(audio[i : i + 640])]
    every_step.close()
    # openWakeWord's classifier sees the last 1.3 s, so its score may stay high for up to 2 s after a phrase
    within = [max((score for at_s, score in hits if start < at_s <= end + 2.0), default=0.0) for start, end in spans]
    outside = max((score for at_s, score in hits if not any(s < at_s <= e + 2.0 for s, e in spans)), default=0.0)
    return within, outside, cutoff


@needs_espeak
@pytest.mark.parametrize("backend", BACKENDS)
def test_real_models_wake_on_synthetic_phrases(backend: str) -> None:
    report = []
    for model in PHRASES:
        peaks, noise_peak, cutoff = phrase_scores(backend, model)
        rate = sum(peak > cutoff for peak in peaks) / len(peaks)
        report.append(f"{model}: {rate:.0%} woke (cutoff {cutoff}), peaks {[round(p, 2) for p in peaks]}")
        assert noise_peak <= cutoff, f"{model} fired on noise alone"
        if (backend, model) != ("open", "hey_mycroft"):
            assert max(peaks) > 0.5, f"{model} does not respond to its own phrase"
    print(f"\n{backend}, espeak-ng voices {VOICES}:\n  " + "\n  ".join(report))
    # Measured (see docs/wake-word.md): synthetic voices do not wake every model reliably; the assertions
    # above are what holds for all of them. openWakeWord's hey_mycroft never responds to espeak-ng.


@needs_espeak
@pytest.mark.anyio
async def test_spoken_okay_nabu_opens_the_gate_and_the_request_is_not_clipped(tmp_path: Path) -> None:
    chatter, wake = espeak("What is the weather like today?"), espeak("Okay Nabu")
    request = espeak("turn on the kitchen lights", speed=170)
    assert chatter is not None and wake is not None and request is not None
    scene = Scene(12.0, noise_dbfs=-45.0)
    scene.add(1.0, chatter, "chatter")
    wake_end = scene.add(4.0, wake, "wake")
    scene.add(wake_end + 0.3, request, "request")  # a short natural pause
    gate = WakeGate(WavMic(scene.write(tmp_path / "mic.wav")), MicroWakeDetector("okay_nabu"), idle_timeout_s=2.0)
    run = await run_gate(gate, scene)
    [woke] = run.events_of(ConversationState.CONVERSATION)
    [(start, end)] = run.segments()
    print(f"\nokay_nabu fired {1000 * (woke.at_s - wake_end):.0f} ms after the phrase ended (score {woke.score:.2f})")
    assert run.returned_before(woke) == 0 and start > scene.marks["chatter_end"]
    assert start <= scene.marks["request"], "the pre-roll holds the start of the request"
    # the energy VAD misses the faint final "ts" of "lights", so the countdown may start up to 0.3 s early
    assert scene.marks["request_end"] + 2.0 - 0.3 <= end <= scene.marks["request_end"] + 2.0 + 0.1
