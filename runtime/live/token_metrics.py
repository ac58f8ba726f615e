"""`runtime token-server --metrics`: tokens minted, requests refused, and how long minting takes.

The service is threaded (one HTTP thread per request), so its counters are prometheus-client's own, which are
thread-safe; `/metrics` is served by the library's own HTTP server thread beside it. Labels are fixed words:
nothing a device sends becomes a label.
"""

from __future__ import annotations

from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram, Info
from prometheus_client.platform_collector import PlatformCollector
from prometheus_client.process_collector import ProcessCollector

from runtime.live.token_service import REASONS, TokenService

MINT_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class MeteredTokenService(TokenService):
    """A `TokenService` that counts what it does into its own registry."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.registry = CollectorRegistry(auto_describe=True)
        self.minted_total = Counter("runtime_token_server_tokens_minted", "Tokens minted and handed out.",
                              registry=self.registry)
        self.refusals = Counter("runtime_token_server_refusals", "Token requests refused, by why.", ["reason"],
                                registry=self.registry)
        for reason in REASONS:
            self.refusals.labels(reason)
        self.mint_seconds = Histogram("runtime_token_server_mint_seconds", "Time to answer one request that got "
                                      "a token (checks and the Live API's auth_tokens call).", buckets=MINT_BUCKETS,
                                      registry=self.registry)
        Info("runtime_token_server_build", "This token service's version.", registry=self.registry).info(
            {"version": _version()})
        ProcessCollector(registry=self.registry)
        PlatformCollector(registry=self.registry)

    def refused(self, reason: str) -> None:
        self.refusals.labels(reason).inc()

    def minted(self, seconds: float) -> None:
        self.mint_seconds.observe(seconds)
        self.minted_total.inc()


def _version() -> str:
    from importlib import metadata

    try:
        return metadata.version("live-agent-runtime")
    except metadata.PackageNotFoundError:
        return "unknown"
