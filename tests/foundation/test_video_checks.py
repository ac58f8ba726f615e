"""The `video:` section at validate time: compression is required, the frame rate must leave the window room."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from runtime.agentfile.loader import load_agent
from runtime.agentfile.spec import AgentSpec
from runtime.agentfile.video_tokens import image_tokens, video_tokens_per_s
from tests.foundation.helpers import MODEL, only_error, position, write

M = f"model: {MODEL}\n"
HIGH_TRIGGER = "context: {compression: {trigger_tokens: 125000, target_tokens: 60000}}\n"


def test_video_without_compression_is_refused_at_the_switch(tmp_path: Path) -> None:
    text = M + "video: {source: 'file:shelf.jpg'}\ncontext:\n  compression: false\n"
    error = only_error(write(tmp_path, text))
    assert position(error) == "4:16"
    assert "ends after 2 minutes" in error.message
    assert "compression" in error.hint


def test_video_without_compression_is_refused_by_runtime_validate_with_a_position(tmp_path: Path) -> None:
    path = write(tmp_path, M + "context: {compression: {enabled: false}}\nvideo:\n  source: v4l2:/dev/video0\n")
    result = subprocess.run([sys.executable, "-m", "runtime", "validate", str(path)],
                            capture_output=True, text=True, check=False)
    assert result.returncode == 1
    assert f"{path}:2:24: error: an audio+video session without context compression ends after 2 minutes" \
        in result.stdout
    assert "hint: turn `context.compression` on" in result.stdout


def shelf(directory: Path) -> Path:
    (directory / "shelf.jpg").write_bytes(b"\xff\xd8")  # only its presence is checked
    return directory


def test_video_with_default_compression_on_a_128k_model_is_valid(tmp_path: Path) -> None:
    shelf(tmp_path)
    agent = load_agent(write(tmp_path, M + "video: {source: 'file:shelf.jpg'}\n"))
    assert agent.warnings == []
    assert agent.spec.video.fps == 1.0 and agent.spec.video.max_size_px == 1024


def test_a_frame_rate_that_outruns_compression_warns(tmp_path: Path) -> None:
    shelf(tmp_path)
    # 131072 - 125000 = 6072 tokens of room at 283 tokens/s (258 a frame + 25 of audio) last 21 s.
    agent = load_agent(write(tmp_path, M + HIGH_TRIGGER + "video: {source: 'file:shelf.jpg'}\n"))
    assert [position(w) for w in agent.warnings] == ["3:8"]
    assert "283 tokens a second" in agent.warnings[0].message
    assert "last 21 s" in agent.warnings[0].message


def test_a_lower_trigger_silences_the_warning(tmp_path: Path) -> None:
    shelf(tmp_path)
    text = M + HIGH_TRIGGER + "video: {source: 'file:shelf.jpg', fps: 0.1}\n"  # 6072 / 50.8 = 120 s
    assert load_agent(write(tmp_path, text)).warnings == []


def test_fps_warning_points_at_fps_when_written(tmp_path: Path) -> None:
    shelf(tmp_path)
    agent = load_agent(write(tmp_path, M + "video:\n  source: 'file:shelf.jpg'\n  fps: 5\n"
                             + HIGH_TRIGGER))
    assert [position(w) for w in agent.warnings] == ["4:8"]


def test_a_missing_file_source_warns_and_conversation_in_server_mode_warns(tmp_path: Path) -> None:
    agent = load_agent(write(tmp_path, M + "video:\n  source: 'file:photos/'\n  when: conversation\n"))
    assert [(position(w), w.message) for w in agent.warnings] == [
        ("3:11", "`photos` does not exist (yet): no frames are sent until it does"),
        ("4:9", "`server` mode has no conversation of its own: frames flow the whole session"),
    ]


def test_when_defaults_to_conversation_in_wake_word_and_push_to_talk() -> None:
    spec = AgentSpec.model_validate({"model": MODEL, "video": {"source": "file:shelf.jpg"}})
    assert [spec.video.frames_when(m) for m in ("wake_word", "push_to_talk", "server", "manual")] == [
        "conversation", "conversation", "always", "always"]
    always = AgentSpec.model_validate({"model": MODEL, "video": {"source": "file:shelf.jpg", "when": "always"}})
    assert always.video.frames_when("wake_word") == "always"


def test_tokens_are_counted_as_the_service_counts_them() -> None:
    assert image_tokens(384, 384) == 258
    assert image_tokens(1024, 768) == 2 * 258  # two 768x768 tiles
    assert image_tokens(1920, 1080) == 3 * 2 * 258
    assert video_tokens_per_s(1) == 283
    assert video_tokens_per_s(1, low_resolution=True) == 91
