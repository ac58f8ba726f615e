"""Resumption handles on disk, close-code recovery and goAway timing."""

from __future__ import annotations

import json
from pathlib import Path

from runtime.live.resume import HandleStore, classify_close, goaway_deadline_s, parse_duration_s
from runtime.retry import Recovery


def test_a_saved_handle_is_loaded_by_a_new_store(tmp_path: Path) -> None:
    HandleStore(tmp_path / "state", "kitchen").save("handle-1")
    assert HandleStore(tmp_path / "state", "kitchen").load() == "handle-1"
    stored = json.loads((tmp_path / "state" / "kitchen.json").read_text())
    assert stored["handle"] == "handle-1" and stored["saved_at"] > 0
    assert [p.name for p in (tmp_path / "state").iterdir()] == ["kitchen.json"]  # no temporary left behind


def test_a_handle_older_than_two_hours_is_ignored(tmp_path: Path) -> None:
    now = [1_000_000.0]
    store = HandleStore(tmp_path, "a", clock=lambda: now[0])
    store.save("old")
    now[0] += 2 * 3600 - 1
    assert store.load() == "old"
    now[0] += 2
    assert store.load() is None


def test_missing_or_corrupt_state_means_a_fresh_session(tmp_path: Path) -> None:
    store = HandleStore(tmp_path, "a")
    assert store.load() is None
    store.path.write_text("{not json")
    assert store.load() is None
    store.path.write_text(json.dumps({"handle": 5, "saved_at": 1}))
    assert store.load() is None


def test_clear_forgets_the_handle(tmp_path: Path) -> None:
    store = HandleStore(tmp_path, "a")
    store.save("h")
    store.clear()
    assert store.load() is None
    store.clear()


def test_close_codes_map_to_recoveries() -> None:
    assert classify_close(1006, "Abnormal closure.") is Recovery.RESUME
    assert classify_close(1011, "Deadline expired before operation could complete.") is Recovery.RESUME
    assert classify_close(1011, "keepalive ping timeout") is Recovery.RESUME
    assert classify_close(1001, "going away") is Recovery.RESUME
    assert classify_close(1000, "The operation was cancelled.") is Recovery.RESUME
    assert classify_close(1008, "API key not valid. Please pass a valid API key.") is Recovery.FATAL
    assert classify_close(1008, "BidiGenerateContent session not found") is Recovery.FRESH
    assert classify_close(1011, "Maximum session duration reached.") is Recovery.FRESH
    assert classify_close(None, "") is Recovery.RESUME


def test_goaway_timer_fires_well_before_time_left() -> None:
    assert goaway_deadline_s("50s") == 25.0
    assert goaway_deadline_s("12s") == 2.0
    assert goaway_deadline_s("2s") == 0.0
    assert goaway_deadline_s(None) == 5.0
    assert goaway_deadline_s("50s", margin_s=1.0, fraction=0.9) == 45.0


def test_durations_parse_like_protobuf_durations() -> None:
    assert parse_duration_s("50s") == 50.0
    assert parse_duration_s("1.5s") == 1.5
    assert parse_duration_s(3) == 3.0
    assert parse_duration_s("soon") is None
