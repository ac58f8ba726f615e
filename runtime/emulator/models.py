"""`GET /v1beta/models`: the model listing the SDK's `client.models.list()` pages through, from the catalogue.

Shaped like the service's answer (https://ai.google.dev/api/models#method:-models.list): `{"models": [...],
"nextPageToken": ...}`, 50 models a page unless `pageSize` asks otherwise (at most 1000), the token omitted on the
last page. Each model is a `Model` resource; google-genai reads `supportedGenerationMethods` into
`Model.supported_actions` (models.py `_Model_from_mldev`), and a Live model lists `bidiGenerateContent` only (a
Live model refuses `generateContent` as "not supported for generateContent", googleapis/python-genai#2219).
Shut-down models are not listed: the service no longer offers them. The listing also holds models a Live client
must skip (text models) and Live models the catalogue does not describe (translation, transcription), so that a
client that forgets to filter, or to page, is caught here.
"""

from __future__ import annotations

import base64
import json
import re
from typing import Any
from urllib.parse import parse_qs

from websockets.datastructures import Headers
from websockets.http11 import Request, Response

from runtime.agentfile import catalogue

MODELS_PATH = re.compile(r"^/+(v1|v1beta|v1alpha)/models$")

#: Live models the service lists that are no conversational agents (pub.dev gemini_live `LiveModels`, 2026-11).
UNDESCRIBED_LIVE = (
    ("gemini-3.5-live-translate-preview", "Gemini 3.5 Live Translate Preview"),
    ("gemini-3.5-transcribe-live", "Gemini 3.5 Transcribe Live"),
)
#: Models that are not Live models at all, as the listing mixes them in.
NOT_LIVE: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    ("gemini-3.8-flash", "Gemini 3.8 Flash", ("generateContent", "countTokens", "createCachedContent",
                                              "batchGenerateContent")),
    ("gemini-embedding-001", "Gemini Embedding 001", ("embedContent", "countTokens", "batchEmbedContents")),
)


def answer_listing(request: Request, key_refusal: str | None) -> Response | None:
    """The listing's HTTP answer, or None when the request is not for `/v1*/models`; `key_refusal` is the
    message for a request whose API key the emulator does not accept (the service answers 400, as for tokens)."""
    path, _, query = request.path.partition("?")
    if MODELS_PATH.match(path) is None:
        return None
    if key_refusal is not None:
        return _json(400, {"error": {"code": 400, "message": key_refusal, "status": "INVALID_ARGUMENT"}})
    models = catalogue.current()
    params = {name: values[-1] for name, values in parse_qs(query).items()}
    try:
        size = int(params.get("pageSize") or 0)
        offset = _offset(params.get("pageToken", ""))
        if size < 0:
            raise ValueError(size)
    except ValueError:
        return _json(400, {"error": {"code": 400, "message": "Invalid pageSize or pageToken.",
                                     "status": "INVALID_ARGUMENT"}})
    size = min(size or models.service.listing.default_page_size, models.service.listing.max_page_size)
    resources = listed_models(models)
    page: dict[str, Any] = {"models": resources[offset : offset + size]}
    if offset + size < len(resources):
        page["nextPageToken"] = base64.urlsafe_b64encode(f"offset:{offset + size}".encode()).decode()
    return _json(200, page)


def listed_models(models: catalogue.Catalogue) -> list[dict[str, Any]]:
    """Every `Model` resource of the listing, in the order pages are cut from."""
    resources = [_resource(model_id, name, methods) for model_id, name, methods in NOT_LIVE]
    live_action = models.service.listing.live_action
    for info in models.models.values():
        if info.status() != "shut_down":
            resources.append(_resource(info.id, info.display_name or info.id, (live_action,), info))
    resources += [_resource(model_id, name, (live_action,)) for model_id, name in UNDESCRIBED_LIVE]
    return resources


def _resource(
    model_id: str, name: str, methods: tuple[str, ...], info: catalogue.ModelInfo | None = None
) -> dict[str, Any]:
    resource: dict[str, Any] = {
        "name": f"models/{model_id}",
        "version": "001",
        "displayName": name,
        "description": name,
        "inputTokenLimit": info.limits.context_window_tokens if info else 131072,
        "outputTokenLimit": (info.limits.output_tokens if info else None) or 8192,
        "supportedGenerationMethods": list(methods),
        "temperature": 1,
        "topP": 0.95,
        "topK": 64,
        "maxTemperature": 2,
    }
    if info is not None:
        resource["thinking"] = info.features.thinking != "none"
    return resource


def _offset(token: str) -> int:
    if not token:
        return 0
    text = base64.urlsafe_b64decode(token.encode()).decode()
    if not text.startswith("offset:"):
        raise ValueError(token)
    return int(text.removeprefix("offset:"))


def _json(status: int, body: dict[str, Any]) -> Response:
    payload = json.dumps(body).encode()
    headers = Headers([
        ("Content-Type", "application/json; charset=UTF-8"),
        ("Content-Length", str(len(payload))),
        ("Connection", "close"),
    ])
    return Response(status, "OK" if status == 200 else "Bad Request", headers, payload)
