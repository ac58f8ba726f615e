"""`runtime token-server`: a small reference service that mints short-lived Live tokens for devices.

Run it where the long-lived API key may live (a home server, a cloud function); devices get
`--token-url http://HOST:PORT/token` and fetch one single-use token per connection, so a stolen device
never yields the key. Protocol: `POST /token` → `200 {"token": "auth_tokens/..."}`. With
`--bearer-file`, a request must carry `Authorization: Bearer <that file's content>` (devices send
`$RUNTIME_TOKEN_BEARER`). It binds to 127.0.0.1 unless told otherwise: put TLS in front of it (a reverse
proxy) before exposing it to a network.
"""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING, Any

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
    parser.add_argument("--metrics", metavar="HOST:PORT", help="serve Prometheus /metrics there: tokens minted, "
                        "refusals, minting time (e.g. 127.0.0.1:8654; default: off)")


def run(args: argparse.Namespace) -> int:
    import logging

    from runtime.live.endpoint import Endpoint

    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s", stream=sys.stderr)
    endpoint = Endpoint.from_env(base_url=args.base_url, ca_file=args.ca_file)
    if not endpoint.api_key:
        print("runtime token-server: no API key: set GEMINI_API_KEY or a gemini-api-key credential",
              file=sys.stderr)
        return 2
    bearer = _read_bearer(args.bearer_file)
    if bearer is False:
        return 2
    service = _service(args, endpoint, bearer or None)
    if args.metrics and not _serve_metrics(service, args.metrics):
        return 2
    server = service.http_server(args.host, args.port)
    host, port = str(server.server_address[0]), int(server.server_address[1])
    print(f"serving tokens on http://{host}:{port}/token", flush=True)
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
    return service_class(endpoint, uses=args.uses, expire_s=args.expire_s, new_session_s=args.new_session_s,
                         bearer=bearer)


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
