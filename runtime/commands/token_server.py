"""`runtime token-server`: a small reference service that mints short-lived Live tokens for devices.

Run it where the long-lived API key may live (a home server, a cloud function); devices get
`--token-url http://HOST:PORT/token` and fetch one single-use token per connection, so a stolen device
never yields the key. Protocol: `POST /token` with `{"agent": NAME}` → `200 {"token": "auth_tokens/..."}`
(runtime/live/token_service.py). Devices authenticate with their own credential (`--devices FILE`, filled by
`runtime token-server add-device NAME --agents a,b --devices FILE`) or the shared `--bearer-file` secret; with
`--agents DIR` each token is locked to the agent's model and configuration. It binds to 127.0.0.1 unless told
otherwise; give it `--tls-cert/--tls-key` (or a TLS reverse proxy) before exposing it to a network.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from runtime.live.token_limits import DEFAULT_BURST, DEFAULT_PER_MINUTE

if TYPE_CHECKING:
    from runtime.live.endpoint import Endpoint
    from runtime.live.token_service import TokenService


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8787, help="TCP port (default 8787; 0 picks a free one)")
    parser.add_argument("--uses", type=int, default=1, help="sessions one token may open (default 1)")
    parser.add_argument("--expire-s", type=float, default=1800.0, help="token lifetime in seconds (default 1800)")
    parser.add_argument("--new-session-s", type=float, default=60.0,
                        help="seconds within which the token must open its session (default 60)")
    parser.add_argument("--bearer-file", help="file holding the secret devices must send as a Bearer token")
    parser.add_argument("--base-url", help="Live API base URL (default Google's; env RUNTIME_BASE_URL)")
    parser.add_argument("--ca-file", help="PEM file to trust for --base-url (env RUNTIME_CA_FILE)")
    parser.add_argument("--devices", metavar="FILE", help="devices file: one line per device (name, secret hash, "
                        "agents it may run); re-read on every change, a removed line revokes the device at once")
    parser.add_argument("--agents", metavar="DIR", help="agent files (as the devices run them): every token is "
                        "locked to the model and Live configuration of the agent a device names")
    parser.add_argument("--rate-burst", type=int, default=DEFAULT_BURST,
                        help=f"tokens a device may take at once (default {DEFAULT_BURST})")
    parser.add_argument("--rate-per-minute", type=float, default=DEFAULT_PER_MINUTE,
                        help=f"tokens a device's bucket regains per minute (default {DEFAULT_PER_MINUTE:g})")
    parser.add_argument("--tls-cert", metavar="PEM", help="serve HTTPS with this certificate chain")
    parser.add_argument("--tls-key", metavar="PEM", help="the private key of --tls-cert")
    parser.add_argument("--metrics", metavar="HOST:PORT", help="serve Prometheus /metrics there: tokens minted, "
                        "refusals, minting time (e.g. 127.0.0.1:8654; default: off)")
    actions = parser.add_subparsers(dest="action", required=False, metavar="add-device")
    add = actions.add_parser("add-device", help="add a device: prints its credential once, stores only its hash")
    add.add_argument("name", help="the device's name (lowercase letters, digits, - and _)")
    add.add_argument("--agents", dest="device_agents", required=True, metavar="A,B",
                     help="agents the device may run, comma-separated (* for any)")
    add.add_argument("--devices", dest="devices_file", required=True, metavar="FILE", help="the devices file")


def run(args: argparse.Namespace) -> int:
    import logging

    from runtime.live.endpoint import Endpoint

    if getattr(args, "action", None) == "add-device":
        return _add_device(args)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s", stream=sys.stderr)
    endpoint = Endpoint.from_env(base_url=args.base_url, ca_file=args.ca_file)
    if not endpoint.api_key:
        print("runtime token-server: no API key: set GEMINI_API_KEY or a gemini-api-key credential",
              file=sys.stderr)
        return 2
    bearer = _read_bearer(args.bearer_file)
    if bearer is False:
        return 2
    try:
        service = _service(args, endpoint, bearer or None)
    except (OSError, ValueError) as exc:
        print(f"runtime token-server: {exc}", file=sys.stderr)
        return 2
    if args.metrics and not _serve_metrics(service, args.metrics):
        return 2
    server = service.http_server(args.host, args.port)
    scheme = "http"
    if args.tls_cert or args.tls_key:
        if not (args.tls_cert and args.tls_key):
            print("runtime token-server: --tls-cert and --tls-key go together", file=sys.stderr)
            return 2
        try:
            _wrap_tls(server, args.tls_cert, args.tls_key)
        except (OSError, ValueError) as exc:
            print(f"runtime token-server: cannot use the TLS certificate: {exc}", file=sys.stderr)
            return 2
        scheme = "https"
    host, port = str(server.server_address[0]), int(server.server_address[1])
    print(f"serving tokens on {scheme}://{host}:{port}/token", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0


def _service(args: argparse.Namespace, endpoint: Endpoint, bearer: str | None) -> TokenService:
    """The service, counting into its own registry with `--metrics` (prometheus-client is imported only then)."""
    from runtime.live.token_service import TokenService

    service_class = TokenService
    if args.metrics:
        from runtime.live.token_metrics import MeteredTokenService

        service_class = MeteredTokenService
    from runtime.live.token_agents import AgentCatalog
    from runtime.live.token_devices import DevicesFile
    from runtime.live.token_limits import RateLimiter

    devices = DevicesFile(Path(args.devices)) if args.devices else None
    agents = AgentCatalog(Path(args.agents)) if args.agents else None
    limiter = RateLimiter(args.rate_burst, args.rate_per_minute)
    return service_class(endpoint, uses=args.uses, expire_s=args.expire_s, new_session_s=args.new_session_s,
                         bearer=bearer, devices=devices, agents=agents, limiter=limiter)


def _wrap_tls(server: Any, cert: str, key: str) -> None:
    """HTTPS on the same server: the handshake runs in each request's own thread (`do_handshake_on_connect`
    would run it in the accepting thread, where one slow client would hold every other up)."""
    import ssl

    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_cert_chain(cert, key)
    server.socket = context.wrap_socket(server.socket, server_side=True, do_handshake_on_connect=False)


def _add_device(args: argparse.Namespace) -> int:
    from runtime.live.token_devices import DevicesFileError, add_device

    agents = [agent.strip() for agent in args.device_agents.split(",") if agent.strip()]
    try:
        credential = add_device(Path(args.devices_file), args.name, agents)
    except (OSError, DevicesFileError) as exc:
        print(f"runtime token-server add-device: {exc}", file=sys.stderr)
        return 2
    print(credential)
    print(f"device {args.name} added to {args.devices_file} (agents: {', '.join(agents)}); the line above is its "
          "credential, shown only now: put it in the device's credential file", file=sys.stderr)
    return 0


def _serve_metrics(service: TokenService, address_text: str) -> bool:
    """`/metrics` on its own thread (the service is threaded anyway); False when the address is wrong or taken."""
    from prometheus_client import start_http_server

    from runtime.daemon.metrics_server import MetricsAddressError, parse_address
    from runtime.live.token_metrics import MeteredTokenService

    assert isinstance(service, MeteredTokenService)
    try:
        address = parse_address(address_text)
        server, _thread = start_http_server(address.port, address.host, registry=service.registry)
    except (MetricsAddressError, OSError) as exc:
        print(f"runtime token-server: {exc}", file=sys.stderr)
        return False
    print(f"serving metrics on http://{address.host}:{server.server_address[1]}/metrics", flush=True)
    return True


def _read_bearer(path: str | None) -> Any:
    if path is None:
        return None
    try:
        with open(path, encoding="utf-8") as file:
            secret = file.read().strip()
    except OSError as exc:
        print(f"runtime token-server: cannot read {path}: {exc}", file=sys.stderr)
        return False
    if not secret:
        print(f"runtime token-server: {path} is empty", file=sys.stderr)
        return False
    return secret
