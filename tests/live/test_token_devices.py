"""The token service's devices file and rate limit: hashes, revocation on the next request, token buckets."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from runtime.live.token_devices import (
    DevicesFile,
    DevicesFileError,
    add_device,
    hash_secret,
    parse_devices,
    split_credential,
    verify_secret,
)
from runtime.live.token_limits import RateLimiter


def test_a_hash_verifies_its_secret_only() -> None:
    stored = hash_secret("s3cret")
    assert stored.startswith("scrypt$16384$8$1$") and "s3cret" not in stored
    assert verify_secret("s3cret", stored)
    assert not verify_secret("s3cret!", stored)
    assert not verify_secret("s3cret", "scrypt$broken")
    assert hash_secret("s3cret") != stored  # salted


def test_add_device_stores_only_the_hash_and_prints_the_credential_once(tmp_path: Path) -> None:
    path = tmp_path / "devices"
    credential = add_device(path, "kitchen", ["kitchen", "timer"])
    name, secret = split_credential(credential) or ("", "")
    assert name == "kitchen" and len(secret) >= 40
    text = path.read_text()
    assert secret not in text and text.startswith("kitchen scrypt$") and text.endswith(" kitchen,timer\n")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    with pytest.raises(DevicesFileError, match="already listed"):
        add_device(path, "kitchen", ["kitchen"])
    with pytest.raises(DevicesFileError, match="device name"):
        add_device(path, "Kitchen Two", ["kitchen"])
    devices = DevicesFile(path)
    found = devices.authenticate(credential)
    assert found is not None and found.may_run("timer") and not found.may_run("hall")
    assert devices.authenticate(credential + "x") is None
    assert devices.authenticate("hall." + secret) is None


def test_a_removed_line_revokes_on_the_next_request(tmp_path: Path) -> None:
    path = tmp_path / "devices"
    kitchen = add_device(path, "kitchen", ["*"])
    hall = add_device(path, "hall", ["hall"])
    devices = DevicesFile(path)
    assert devices.authenticate(kitchen) and devices.authenticate(hall)
    lines = path.read_text().splitlines(keepends=True)
    path.write_text("".join(line for line in lines if not line.startswith("kitchen ")))
    assert devices.authenticate(kitchen) is None  # no wait: the file is looked at on every request
    assert devices.authenticate(hall) is not None


def test_a_new_secret_for_a_name_replaces_the_remembered_check(tmp_path: Path) -> None:
    path = tmp_path / "devices"
    old = add_device(path, "kitchen", ["*"])
    devices = DevicesFile(path)
    assert devices.authenticate(old)
    path.write_text("")
    new = add_device(path, "kitchen", ["*"])
    assert devices.authenticate(old) is None
    assert devices.authenticate(new) is not None


def test_malformed_lines_are_reported_by_number_without_their_content() -> None:
    with pytest.raises(DevicesFileError) as caught:
        parse_devices("# devices\nkitchen scrypt$x kitchen\nhall plaintext-secret hall\n")
    assert "line 3" in str(caught.value) and "plaintext-secret" not in str(caught.value)
    assert parse_devices("\n# nothing\n") == {}


def test_a_bucket_allows_its_burst_then_one_token_per_interval() -> None:
    now = [0.0]
    limiter = RateLimiter(burst=3, per_minute=2.0, clock=lambda: now[0])
    assert [limiter.take("kitchen") for _ in range(3)] == [0, 0, 0]
    assert limiter.take("kitchen") == 30
    assert limiter.take("hall") == 0  # each device its own bucket
    now[0] = 29.0
    assert limiter.take("kitchen") == 1
    now[0] = 30.0
    assert limiter.take("kitchen") == 0
    now[0] = 10_000.0
    assert [limiter.take("kitchen") for _ in range(4)] == [0, 0, 0, 30]  # refills up to the burst, not beyond


def test_wrong_secrets_for_a_known_name_are_throttled_before_they_cost_an_scrypt(tmp_path: Path) -> None:
    from runtime.live.endpoint import Endpoint
    from runtime.live.token_service import TokenService

    kitchen = add_device(tmp_path / "devices", "kitchen", ["*"])
    hall = add_device(tmp_path / "devices", "hall", ["*"])
    service = TokenService(Endpoint(api_key="never-used"), devices=DevicesFile(tmp_path / "devices"),
                           limiter=RateLimiter(burst=3, per_minute=1.0))
    wrong = "kitchen.not-the-secret"
    answers = [service.answer(f"Bearer {wrong}", b"") for _ in range(4)]
    assert [answer.status for answer in answers] == [401, 401, 401, 429]
    assert answers[-1].headers["Retry-After"] == "60" and "not-the-secret" not in str(answers[-1].body)
    assert service.identify(f"Bearer {hall}") == "hall"  # another device is not held up
    name, secret = split_credential(kitchen) or ("", "")
    assert service.answer(f"Bearer {name}.{secret}", b"").status == 429  # until its bucket refills
