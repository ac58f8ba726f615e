"""Endpoints and credentials: environment, systemd credentials, and ephemeral tokens end to end."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from runtime.audio.files import NullIn, NullOut
from runtime.emulator import EmulatorOptions, serve
from runtime.errors import FatalSessionError
from runtime.live.endpoint import Endpoint, fetch_token
from runtime.live.token_service import TokenService
from tests.live.conftest import Recorder, agent, running


def test_arguments_win_over_the_environment() -> None:
    environ = {"RUNTIME_BASE_URL": "https://env:1", "RUNTIME_CA_FILE": "/env.pem", "GEMINI_API_KEY": " k1 ",
               "RUNTIME_TOKEN_URL": "http://tokens/token"}
    from_env = Endpoint.from_env(environ=environ)
    assert (from_env.base_url, from_env.ca_file, from_env.api_key) == ("https://env:1", Path("/env.pem"), "k1")
    assert from_env.token_url == "http://tokens/token" and from_env.has_credentials()
    given = Endpoint.from_env(base_url="https://arg:2", ca_file="/arg.pem", token_url="http://t", environ=environ)
    assert (given.base_url, given.ca_file, given.token_url) == ("https://arg:2", Path("/arg.pem"), "http://t")
    assert "k1" not in repr(from_env)


def test_keys_come_from_either_variable_or_a_systemd_credential(tmp_path: Path) -> None:
    assert Endpoint.from_env(environ={"GOOGLE_API_KEY": "g"}).api_key == "g"
    (tmp_path / "gemini-api-key").write_text("from-credential\n")
    assert Endpoint.from_env(environ={"CREDENTIALS_DIRECTORY": str(tmp_path)}).api_key == "from-credential"
    nothing = Endpoint.from_env(environ={})
    assert nothing.api_key is None and not nothing.has_credentials() and nothing.base_url is None


@pytest.mark.anyio
async def test_a_client_without_credentials_is_a_fatal_error() -> None:
    with pytest.raises(FatalSessionError, match="GEMINI_API_KEY"):
        await Endpoint().client()


@contextmanager
def token_server(service: TokenService) -> Iterator[str]:
    server = service.http_server("127.0.0.1", 0)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/token"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


@pytest.mark.anyio
async def test_ephemeral_tokens_one_per_connection_survive_a_handover(tmp_path: Path) -> None:
    options = EmulatorOptions(port=0, api_key="long-lived", go_away_after_s=0.5, connection_limit_s=1.5)
    events = Recorder()
    async with serve(options) as emulator:
        minting = Endpoint(base_url=emulator.base_url, ca_file=emulator.ca_file, api_key="long-lived")
        service = TokenService(minting, bearer="device-secret")
        with token_server(service) as url:
            with pytest.raises(FatalSessionError, match="401"):
                await fetch_token(url, None)
            device = Endpoint(base_url=emulator.base_url, ca_file=emulator.ca_file, token_url=url,
                              token_bearer="device-secret")
            async with running(agent(response="text"), emulator, tmp_path, NullIn(), NullOut(),
                               events=events, endpoint=device) as session:
                await events.until(lambda: len(session.stats.handovers) >= 2)
        assert emulator.connections >= 3
    assert not events.states("reconnecting")


def test_the_device_credential_comes_from_a_file_or_a_systemd_credential(tmp_path: Path) -> None:
    (tmp_path / "credential").write_text("kitchen-pi.secret-from-file\n")
    named = Endpoint.from_env(environ={"RUNTIME_TOKEN_CREDENTIAL_FILE": str(tmp_path / "credential"),
                                       "RUNTIME_TOKEN_BEARER": "shared"})
    assert named.token_bearer == "kitchen-pi.secret-from-file"  # a device's own credential wins over the shared one
    (tmp_path / "runtime-token-credential").write_text("hall-pi.from-systemd\n")
    systemd = Endpoint.from_env(environ={"CREDENTIALS_DIRECTORY": str(tmp_path)})
    assert systemd.token_bearer == "hall-pi.from-systemd"
    assert Endpoint.from_env(environ={"RUNTIME_TOKEN_BEARER": "shared"}).token_bearer == "shared"
    assert "secret-from-file" not in repr(named)


@pytest.mark.anyio
async def test_refusals_raise_credential_refused_and_429_waits_out_retry_after(tmp_path: Path) -> None:
    from runtime.errors import CredentialRefused, SessionError
    from runtime.live.token_devices import DevicesFile, add_device
    from runtime.live.token_limits import RateLimiter

    credential = add_device(tmp_path / "devices", "kitchen-pi", ["kitchen"])
    async with serve(EmulatorOptions(port=0, api_key="long-lived")) as emulator:
        minting = Endpoint(base_url=emulator.base_url, ca_file=emulator.ca_file, api_key="long-lived")
        quick = TokenService(minting, devices=DevicesFile(tmp_path / "devices"), limiter=RateLimiter(1, 60.0))
        with token_server(quick) as url:
            assert (await fetch_token(url, None, bearer=credential, agent="kitchen")).startswith("auth_tokens/")
            # the bucket is empty: the service answers 429 with Retry-After: 1, the fetch waits and asks again
            assert (await fetch_token(url, None, bearer=credential, agent="kitchen")).startswith("auth_tokens/")
            with pytest.raises(CredentialRefused, match="run agent hall"):
                await fetch_token(url, None, bearer=credential, agent="hall")
            with pytest.raises(CredentialRefused, match="HTTP 401"):
                await fetch_token(url, None, bearer=credential + "x", agent="kitchen")
        slow = TokenService(minting, devices=DevicesFile(tmp_path / "devices"), limiter=RateLimiter(1, 0.01))
        with token_server(slow) as url:
            await fetch_token(url, None, bearer=credential, agent="kitchen")
            with pytest.raises(SessionError, match="rate limiting") as caught:
                await fetch_token(url, None, bearer=credential, agent="kitchen")
    assert not isinstance(caught.value, FatalSessionError)  # a busy service is retried, not parked
    assert credential.split(".")[1] not in str(caught.value)


def test_a_token_service_may_have_its_own_ca_while_the_live_api_keeps_the_systems_trust(tmp_path: Path) -> None:
    from runtime.emulator.tls import write_self_signed

    cert, _key = write_self_signed(tmp_path)
    endpoint = Endpoint.from_env(environ={"RUNTIME_TOKEN_CA_FILE": str(cert), "RUNTIME_TOKEN_URL": "https://t/token"})
    assert endpoint.ssl_context() is None and endpoint.token_ca_file == cert
    context = endpoint.token_ssl_context()
    assert context is not None and context.get_ca_certs()[0]["subject"] == ((("commonName", "runtime emulator"),),)
    same = Endpoint(ca_file=cert)
    assert same.token_ssl_context() is not None  # no token CA of its own: the Live endpoint's
