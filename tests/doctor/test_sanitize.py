"""What a trace keeps of a message (its shape) and what it replaces by markers (words, audio, handles)."""

from __future__ import annotations

import array
import base64

from runtime.doctor.sanitize import Sanitizer


def pcm(level: int, samples: int = 320) -> str:
    return base64.b64encode(array.array("h", [level, -level] * (samples // 2)).tobytes()).decode()


def test_words_become_length_markers_and_names_and_enums_stay() -> None:
    setup = {"setup": {"model": "models/gemini-3.8-live", "systemInstruction": {"parts": [{"text": "Be secret"}]},
                       "generationConfig": {"responseModalities": ["AUDIO"]},
                       "realtime_input_config": {"automatic_activity_detection": {
                           "start_of_speech_sensitivity": "START_SENSITIVITY_HIGH"}},
                       "tools": [{"functionDeclarations": [{"name": "weather", "description": "Weather now",
                                                            "parameters": {"type": "OBJECT", "properties": {
                                                                "city": {"type": "STRING", "enum": ["Paris"]}}}}]}]}}
    clean = Sanitizer().message(setup)["setup"]
    assert clean["model"] == "models/gemini-3.8-live"
    assert clean["systemInstruction"]["parts"][0]["text"] == "<text:9>"
    assert clean["realtime_input_config"]["automatic_activity_detection"]["start_of_speech_sensitivity"] == \
        "START_SENSITIVITY_HIGH"
    declaration = clean["tools"][0]["functionDeclarations"][0]
    assert declaration["name"] == "weather" and declaration["description"] == "<text:11>"
    assert declaration["parameters"]["properties"]["city"] == {"type": "STRING", "enum": ["<text:5>"]}


def test_audio_keeps_its_length_and_one_bit_of_level() -> None:
    sanitizer = Sanitizer()
    loud = sanitizer.message({"realtimeInput": {"audio": {"mimeType": "audio/pcm;rate=16000", "data": pcm(3000)}}})
    quiet = sanitizer.message({"realtimeInput": {"audio": {"mimeType": "audio/pcm;rate=16000", "data": pcm(10)}}})
    assert loud["realtimeInput"]["audio"]["data"] == "<audio:640:voiced>"
    assert quiet["realtimeInput"]["audio"]["data"] == "<audio:640>"


def test_tool_arguments_and_results_lose_their_values_and_ids_still_pair() -> None:
    sanitizer = Sanitizer()
    call = sanitizer.message({"toolCall": {"functionCalls": [
        {"id": "fc-9f2", "name": "weather", "args": {"city": "Paris", "name": "Ann", "days": 3}}]}})
    answer = sanitizer.message({"toolResponse": {"functionResponses": [
        {"id": "fc-9f2", "name": "weather", "response": {"forecast": "sunny"}}]}})
    assert call["toolCall"]["functionCalls"][0] == {"id": "id-1", "name": "weather",
                                                    "args": {"city": "<text:5>", "name": "<text:3>", "days": 3}}
    assert answer["toolResponse"]["functionResponses"][0]["id"] == "id-1"
    assert answer["toolResponse"]["functionResponses"][0]["response"] == {"forecast": "<text:5>"}


def test_handles_and_transcripts_are_replaced() -> None:
    sanitizer = Sanitizer()
    handle = sanitizer.message({"sessionResumptionUpdate": {"newHandle": "h" * 32, "resumable": True}})
    said = sanitizer.message({"serverContent": {"outputTranscription": {"text": "Hello"}, "turnComplete": True}})
    assert handle == {"sessionResumptionUpdate": {"newHandle": "<handle:32>", "resumable": True}}
    assert said == {"serverContent": {"outputTranscription": {"text": "<text:5>"}, "turnComplete": True}}
