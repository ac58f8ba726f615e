"""`runtime models`: the model catalogue, and with a key (or `--base-url`) what the service offers for Live.

Exit 0 after printing, 1 when the models file is wrong or the service cannot be listed, 2 on misuse. The
service's list comes from the SDK's `client.aio.models.list()` (every page); a model is a Live model when
`supported_actions` (the REST `supportedGenerationMethods`) holds `bidiGenerateContent`.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import datetime

    from runtime.agentfile.catalogue import Catalogue, ModelInfo
    from runtime.live.endpoint import Endpoint

EXIT_OK, EXIT_FAILED = 0, 1
KINDS = {"half_cascade": "half-cascade", "native_audio": "native audio", "live_3": "3.x live"}
PLACEHOLDER_KEY = "no-key"
"""Sent to a `--base-url` when no key is configured: the emulator accepts any key unless told one."""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="print JSON (every fact and its source)")
    parser.add_argument("--models", type=Path, metavar="FILE",
                        help="a models file that adds or replaces catalogue models by id (default: $RUNTIME_MODELS)")
    parser.add_argument("--base-url", metavar="URL", help="list a Live-compatible endpoint (env RUNTIME_BASE_URL)")
    parser.add_argument("--ca-file", type=Path, metavar="FILE", help="certificates to trust for --base-url")
    parser.add_argument("--offline", action="store_true", help="print the catalogue only, even with a key")


@dataclass(frozen=True)
class Comparison:
    """The catalogue beside the service's Live models (None when the service was not asked)."""

    offered: frozenset[str] | None
    not_in_catalogue: tuple[str, ...] = ()
    not_offered: tuple[str, ...] = ()
    """Catalogue models expected to be served (not shut down) that the service does not list."""
    still_offered: tuple[str, ...] = ()
    """Models the catalogue marks shut down that the service still lists."""


def compare(models: Catalogue, offered: frozenset[str] | None, day: datetime.date) -> Comparison:
    if offered is None:
        return Comparison(None)
    alive = {info.id for info in models.models.values() if info.status(day) != "shut_down"}
    return Comparison(
        offered,
        not_in_catalogue=tuple(sorted(offered - set(models.models))),
        not_offered=tuple(sorted(alive - offered)),
        still_offered=tuple(sorted((set(models.models) - alive) & offered)),
    )


def run(args: argparse.Namespace) -> int:
    from runtime.agentfile import catalogue
    from runtime.agentfile.catalogue_file import CatalogueErrors

    if args.models is not None:
        os.environ[catalogue.ENV_VAR] = str(args.models)
    try:
        models = catalogue.current()
    except CatalogueErrors as failure:
        print(failure.render(), file=sys.stderr)
        return EXIT_FAILED
    day = catalogue.today()
    offered: frozenset[str] | None = None
    endpoint = _endpoint(args)
    if endpoint is not None:
        try:
            offered = list_live_models(endpoint, models.service.listing.live_action,
                                       models.service.listing.max_page_size)
        except ListingFailed as failure:
            print(f"runtime models: {failure}", file=sys.stderr)
            return EXIT_FAILED
    comparison = compare(models, offered, day)
    where = (endpoint.base_url or "the Gemini API") if endpoint is not None else None
    print(as_json(models, comparison, day, where) if args.json else as_table(models, comparison, day, where), end="")
    return EXIT_OK


def _endpoint(args: argparse.Namespace) -> Endpoint | None:
    """Where to list models, or None for the catalogue only (no key, no base URL, or --offline)."""
    from runtime.live.endpoint import Endpoint

    endpoint = Endpoint.from_env(base_url=args.base_url, ca_file=args.ca_file)
    if args.offline or not (endpoint.api_key or endpoint.base_url):
        return None
    return endpoint


class ListingFailed(Exception):
    """The service could not be listed; the message says why, never with a key in it."""


def list_live_models(endpoint: Endpoint, live_action: str, page_size: int) -> frozenset[str]:
    """Ids of the models the endpoint lists with `live_action`, every page read."""
    import anyio

    return anyio.run(_list, endpoint, live_action, page_size)


async def _list(endpoint: Endpoint, live_action: str, page_size: int) -> frozenset[str]:
    import httpx2
    from google import genai
    from google.genai import errors, types

    from runtime.guards.redact import SECRETS

    context = endpoint.ssl_context()
    trust = {"ssl": context, "verify": context} if context is not None else None
    options = types.HttpOptions(base_url=endpoint.base_url, async_client_args=trust)
    client = genai.Client(api_key=endpoint.api_key or PLACEHOLDER_KEY, http_options=options)
    found: set[str] = set()
    try:
        async for model in await client.aio.models.list(config={"page_size": page_size}):
            if live_action in (model.supported_actions or []) and model.name:
                found.add(model.name.removeprefix("models/"))
    except errors.APIError as error:
        message = f"the service refused the model listing: {error.code} {error.message}"
        raise ListingFailed(SECRETS.redact(message)) from None
    except (httpx2.HTTPError, OSError) as error:
        where = endpoint.base_url or "the Gemini API"
        raise ListingFailed(SECRETS.redact(f"cannot list the models of {where}: {error}")) from None
    finally:
        await client.aio.aclose()
    return frozenset(found)


def status_text(info: ModelInfo, day: datetime.date) -> str:
    life = info.lifecycle
    status = info.status(day)
    if status == "shut_down":
        text = f"shut down {life.shutdown}" if life.shutdown else "shut down"
    elif status == "deprecated":
        text = f"deprecated, shuts down {life.shutdown}" if life.shutdown else "deprecated"
    else:
        text = f"{life.stage}" + (f", released {life.released}" if life.released else "")
    return text + (f" -> {life.replacement}" if life.replacement else "")


def features_text(info: ModelInfo) -> str:
    features, words = info.features, []
    if features.affective_dialog:
        words.append("affective")
    if features.proactive_audio != "no":
        words.append("proactive" + (" (always)" if features.proactive_audio == "always" else ""))
    if features.thinking != "none":
        words.append(f"thinking: {features.thinking}")
    if "non_blocking" in info.tools.behaviors:
        words.append("async tools" + (" only" if "blocking" not in info.tools.behaviors else ""))
    if features.video:
        words.append("video")
    return ", ".join(words) or "-"


def as_table(models: Catalogue, comparison: Comparison, day: datetime.date, where: str | None) -> str:
    header = ["MODEL", "KIND", "REPLY", "CONTEXT", "FEATURES", "LIFECYCLE"]
    if comparison.offered is not None:
        header.append("SERVICE")
    rows = [header]
    for model_id in models.ids(day=day):
        info = models.models[model_id]
        row = [model_id, KINDS[info.kind], "+".join(m.lower() for m in info.reply.modalities),
               str(info.limits.context_window_tokens), features_text(info), status_text(info, day)]
        if comparison.offered is not None:
            row.append("offered" if model_id in comparison.offered else "not offered")
        rows.append(row)
    for model_id in comparison.not_in_catalogue:
        rows.append([model_id, "?", "?", "?", "?", "not in the catalogue", "offered"])
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    lines = ["  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip() for row in rows]
    lines.append("")
    lines.append(f"catalogue checked {models.checked}; read from: {', '.join(models.files)}")
    lines.extend(_service_lines(comparison, where))
    return "\n".join(lines) + "\n"


def _service_lines(comparison: Comparison, where: str | None) -> list[str]:
    if comparison.offered is None:
        return ["the service was not asked (no GEMINI_API_KEY, no --base-url)"]
    lines = [f"{where} offers {len(comparison.offered)} Live models"]
    if comparison.not_in_catalogue:
        lines.append("not in the catalogue (describe them in a models file): " + ", ".join(comparison.not_in_catalogue))
    if comparison.not_offered:
        lines.append("in the catalogue but not offered by the service: " + ", ".join(comparison.not_offered))
    if comparison.still_offered:
        lines.append("marked shut down but still offered: " + ", ".join(comparison.still_offered))
    return lines


def as_json(models: Catalogue, comparison: Comparison, day: datetime.date, where: str | None) -> str:
    entries: list[dict[str, Any]] = []
    for model_id in models.ids(day=day):
        info = models.models[model_id]
        entry = info.model_dump(mode="json")
        entry["status"] = info.status(day)
        entry["offered"] = None if comparison.offered is None else model_id in comparison.offered
        entries.append(entry)
    document = {
        "checked": models.checked.isoformat(),
        "files": list(models.files),
        "service": models.service.model_dump(mode="json"),
        "models": entries,
        "listing": None if comparison.offered is None else {
            "endpoint": where,
            "offered": sorted(comparison.offered),
            "not_in_catalogue": list(comparison.not_in_catalogue),
            "not_offered": list(comparison.not_offered),
            "still_offered": list(comparison.still_offered),
        },
    }
    return json.dumps(document, indent=2) + "\n"
