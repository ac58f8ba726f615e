"""`runtime emulate`: serve a local Live API emulator (tests, demos without a key, benchmarks)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=0, help="TCP port; 0 picks a free one (default)")
    parser.add_argument("--scenario", type=Path, help="YAML file scripting the model's replies")
    parser.add_argument("--record", type=Path, help="append every client message to FILE as JSON lines")
    parser.add_argument("--go-away-after", type=float, metavar="SECONDS", help="send goAway this far into a connection")
    parser.add_argument(
        "--connection-limit", type=float, metavar="SECONDS", help="close connections with 1011 after this long"
    )
    parser.add_argument(
        "--video-session-limit",
        type=float,
        default=120.0,
        metavar="SECONDS",
        help="end audio+video sessions without context compression after this long (default 120)",
    )
    parser.add_argument(
        "--session-limit",
        type=float,
        default=900.0,
        metavar="SECONDS",
        help="end sessions without context compression after this long (default 900)",
    )
    parser.add_argument("--faults", type=Path, help="YAML list of faults to inject")
    parser.add_argument("--api-key", help="refuse any other API key with close code 1008")
    parser.add_argument("--ca-out", type=Path, help="write the certificate clients must trust to FILE")
    parser.add_argument("--tls-cert", type=Path, help="serve this certificate instead of a generated one")
    parser.add_argument("--tls-key", type=Path, help="private key of --tls-cert")
    parser.add_argument("--accept-any-model", action="store_true",
                        help="serve models the catalogue does not know or has shut down (the service closes 1008)")
    parser.add_argument("--audio-chunk-ms", type=int, default=40, help="duration of each audio chunk (default 40)")


def run(args: argparse.Namespace) -> int:
    import logging
    import signal

    import anyio

    from runtime.emulator import EmulatorOptions, load_faults, serve
    from runtime.errors import RuntimeConfigError

    if (args.tls_cert is None) != (args.tls_key is None):
        print("runtime emulate: --tls-cert and --tls-key go together", file=sys.stderr)
        return 2
    logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="%(levelname)s %(name)s: %(message)s")
    try:
        options = EmulatorOptions(
            host=args.host,
            port=args.port,
            scenario=args.scenario,
            go_away_after_s=args.go_away_after,
            connection_limit_s=args.connection_limit,
            session_limit_s=args.session_limit,
            video_session_limit_s=args.video_session_limit,
            faults=load_faults(args.faults) if args.faults else (),
            api_key=args.api_key,
            record_path=args.record,
            tls_cert=args.tls_cert,
            tls_key=args.tls_key,
            audio_chunk_ms=args.audio_chunk_ms,
            accept_any_model=args.accept_any_model,
            keep_history=False,
        )

        async def main() -> None:
            async with serve(options) as emulator:
                if args.ca_out is not None:
                    args.ca_out.write_bytes(emulator.ca_file.read_bytes())
                print(f"listening on {emulator.ws_url}", flush=True)
                with anyio.open_signal_receiver(signal.SIGTERM, signal.SIGINT) as signals:
                    async for _ in signals:
                        break  # leaving serve() closes every connection with 1001

        anyio.run(main)
    except RuntimeConfigError as error:
        print(error.render(), file=sys.stderr)
        return 1
    except OSError as error:
        print(f"runtime emulate: {error}", file=sys.stderr)
        return 1
    return 0
