"""Reading models files (the packaged runtime/data/models.yaml, a user's on top) into a `Catalogue`.

A models file is YAML read by the same safe, position-keeping reader as agent files (`runtime.agentfile.yamldoc`), so a
mistake in a user's file is reported `file:line:column: error: ...` with a hint, never as a traceback. An entry
may start from another model (`like: ID`): the other entry's keys, deep-merged under its own.
"""

from __future__ import annotations

import copy
import datetime
import difflib
import typing
from collections.abc import Iterator
from importlib import resources
from pathlib import Path
from types import MappingProxyType, UnionType
from typing import Any

from pydantic import BaseModel, ValidationError
from yaml import nodes

from runtime.agentfile import yamldoc
from runtime.agentfile.catalogue_schema import Catalogue, ModelInfo, ServiceRules
from runtime.errors import Location, RuntimeConfigError

PACKAGE_NAME = "models.yaml"
MAX_FILE_BYTES = 1024 * 1024
MAX_LIKE_DEPTH = 8


class CatalogueErrors(RuntimeConfigError):
    """Every error of a models file, located; rendered one per line like agent-file errors."""

    def __init__(self, errors: list[RuntimeConfigError]) -> None:
        first = errors[0]
        super().__init__(first.location, first.message, first.hint, first.severity)
        self.errors = errors

    def render(self) -> str:
        return "\n".join(error.render() for error in self.errors)


def read_catalogue(override: Path | None) -> Catalogue:
    """The packaged catalogue, then `override` adding or replacing models by id."""
    package = resources.files("runtime").joinpath("data", PACKAGE_NAME)
    doc = _document(str(package), package.read_text(encoding="utf-8"), ("models", "checked", "service"))
    base = _build(doc, Catalogue(datetime.date.min, _service(doc), {}), require_all=True)
    if override is None:
        return base
    try:
        size = override.stat().st_size
        if size > MAX_FILE_BYTES:
            raise _single(str(override), f"the models file is larger than {MAX_FILE_BYTES} bytes")
        text = override.read_text(encoding="utf-8")
    except OSError as error:
        raise _single(str(override), f"cannot read the models file: {error.strerror or error}",
                      "check the path given by --models or $RUNTIME_MODELS") from None
    except UnicodeDecodeError:
        raise _single(str(override), "the models file is not UTF-8 text") from None
    return _build(_document(str(override), text, ("models",)), base, require_all=False)


def _single(path: str, message: str, hint: str = "") -> CatalogueErrors:
    return CatalogueErrors([RuntimeConfigError(Location(path), message, hint)])


def _document(path: str, text: str, keys: tuple[str, ...]) -> yamldoc.Document:
    doc = yamldoc.Document(path, text)
    try:
        yamldoc.parse(doc, _keep_string)
    except RuntimeConfigError as error:
        raise CatalogueErrors([error]) from None
    if doc.errors:
        raise CatalogueErrors(doc.errors)
    if not isinstance(doc.value, dict) or not isinstance(doc.value.get("models"), list):
        raise CatalogueErrors([RuntimeConfigError(
            doc.locate(()), "a models file is a mapping with a `models:` list", "models:\n  - id: ...\n    like: ..."
        )])
    unknown = sorted(set(doc.value) - set(keys))
    if unknown:
        raise CatalogueErrors([RuntimeConfigError(
            doc.locate((unknown[0],), key=True), f"unknown key `{unknown[0]}`", "allowed keys: " + ", ".join(keys)
        )])
    return doc


def _keep_string(text: str, node: nodes.ScalarNode, path: yamldoc.KeyPath) -> str:
    return text


def _service(doc: yamldoc.Document) -> ServiceRules:
    raw = doc.value.get("service")
    try:
        return ServiceRules.model_validate(raw)
    except ValidationError as error:
        raise CatalogueErrors(_located(error, doc, ("service",), ServiceRules)) from None


def _build(doc: yamldoc.Document, base: Catalogue, *, require_all: bool) -> Catalogue:
    """Validate every entry of `doc`; its models replace those of `base` with the same id."""
    entries: list[dict[str, Any]] = doc.value["models"]
    errors: list[RuntimeConfigError] = []
    written: dict[str, int] = {}
    for index, entry in enumerate(entries):
        where = ("models", index)
        if not isinstance(entry, dict) or not isinstance(entry.get("id"), str):
            errors.append(RuntimeConfigError(doc.locate(where), "each model needs an `id`", "- id: gemini-..."))
            continue
        if entry["id"] in written:
            first = written[entry["id"]]
            errors.append(RuntimeConfigError(
                doc.locate((*where, "id")), f"model `{entry['id']}` is listed twice (first as models[{first}])"
            ))
            continue
        written[entry["id"]] = index
    raw = dict(base.raw)
    models = dict(base.models)
    for model_id, index in written.items():
        merged = _resolve(doc, index, raw, errors)
        if merged is None:
            continue
        try:
            info = ModelInfo.model_validate({**merged, "origin": "package" if require_all else doc.path})
        except ValidationError as error:
            errors.extend(_located(error, doc, ("models", index), ModelInfo))
            continue
        raw[model_id], models[model_id] = merged, info
    errors.extend(_replacements(doc, written, models))
    if errors:
        raise CatalogueErrors(errors)
    checked = _checked(doc) if require_all else base.checked
    files = (*base.files, doc.path)
    return Catalogue(checked, base.service, MappingProxyType(models), files, MappingProxyType(raw))


def _checked(doc: yamldoc.Document) -> datetime.date:
    try:
        return datetime.date.fromisoformat(str(doc.value.get("checked")))
    except ValueError:
        problem = RuntimeConfigError(doc.locate(("checked",)), "`checked` must be a date (YYYY-MM-DD)")
        raise CatalogueErrors([problem]) from None


def _resolve(
    doc: yamldoc.Document, index: int, known: dict[str, dict[str, Any]], errors: list[RuntimeConfigError]
) -> dict[str, Any] | None:
    """The entry at `index` with its `like` chain merged in (entries of this file first, then `known`)."""
    entries: list[dict[str, Any]] = doc.value["models"]
    by_id = {entry.get("id"): entry for entry in entries if isinstance(entry, dict)}
    entry = entries[index]
    chain = [entry]
    while "like" in chain[-1]:
        parent_id = chain[-1]["like"]
        parent = by_id.get(parent_id) if parent_id != chain[-1].get("id") else None
        parent = parent or known.get(parent_id)
        if parent is None or len(chain) > MAX_LIKE_DEPTH or any(parent is seen for seen in chain):
            names = [*known, *(key for key in by_id if isinstance(key, str))]
            close = difflib.get_close_matches(str(parent_id), names, n=1, cutoff=0.6)
            problem = "a `like` chain loops" if parent is not None else f"`like: {parent_id}` names no known model"
            errors.append(RuntimeConfigError(
                doc.locate(("models", index, "like")), problem, f"did you mean `{close[0]}`?" if close else ""
            ))
            return None
        chain.append(parent)
    merged: dict[str, Any] = {}
    for layer in reversed(chain):
        merged = _deep_merge(merged, {key: value for key, value in layer.items() if key != "like"})
    return merged


def _deep_merge(base: dict[str, Any], top: dict[str, Any]) -> dict[str, Any]:
    merged = copy.deepcopy(base)
    for key, value in top.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _deep_merge(merged[key], value)
        else:
            merged[key] = copy.deepcopy(value)
    return merged


def _replacements(
    doc: yamldoc.Document, written: dict[str, int], models: dict[str, ModelInfo]
) -> Iterator[RuntimeConfigError]:
    for model_id, index in written.items():
        info = models.get(model_id)
        replacement = info.lifecycle.replacement if info is not None else None
        if replacement is not None and replacement not in models:
            yield RuntimeConfigError(
                doc.locate(("models", index, "lifecycle", "replacement")),
                f"the replacement `{replacement}` of `{model_id}` is not a known model",
                "describe it in this file too, or name a known model",
            )


def _located(
    error: ValidationError, doc: yamldoc.Document, prefix: tuple[Any, ...], root: type[BaseModel]
) -> list[RuntimeConfigError]:
    """Pydantic's errors as located findings (the same wording as agent-file errors)."""
    found: list[RuntimeConfigError] = []
    for detail in error.errors(include_url=False):
        loc = (*prefix, *detail["loc"])
        name = str(detail["loc"][-1]) if detail["loc"] else ""
        where = _dotted(loc[:-1])
        kind = detail["type"]
        if kind == "extra_forbidden":
            allowed = list(_model_at(root, detail["loc"][:-1]))
            close = difflib.get_close_matches(name, allowed, n=1, cutoff=0.6)
            hint = f"did you mean `{close[0]}`?" if close else "allowed keys: " + ", ".join(allowed)
            found.append(RuntimeConfigError(doc.locate(loc, key=True), f"unknown key `{name}` in `{where}`", hint))
        elif kind == "missing":
            found.append(RuntimeConfigError(doc.locate(loc[:-1], key=True), f"missing key `{name}` in `{where}`",
                                            "or start from a known model with `like: ID`"))
        elif kind == "literal_error":
            expected = str(detail.get("ctx", {}).get("expected", "")).replace(" or ", ",")
            choices = [choice.strip(" '") for choice in expected.split(",") if choice.strip(" '")]
            close = difflib.get_close_matches(str(detail["input"]), choices, n=1, cutoff=0.5)
            found.append(RuntimeConfigError(doc.locate(loc), f"`{_dotted(loc)}` must be one of: {', '.join(choices)}",
                                            f"did you mean `{close[0]}`?" if close else ""))
        else:
            message = str(detail["msg"]).removeprefix("Value error, ")
            found.append(RuntimeConfigError(doc.locate(loc), f"`{_dotted(loc)}`: {message[:1].lower()}{message[1:]}"))
    return found


def _model_at(root: type[BaseModel], loc: tuple[Any, ...]) -> dict[str, Any]:
    """The fields of the model class that validates the mapping at `loc` (below `root`)."""
    current: Any = root
    for part in loc:
        if isinstance(part, int) or not (isinstance(current, type) and issubclass(current, BaseModel)):
            return {}
        annotation = current.model_fields[str(part)].annotation if str(part) in current.model_fields else None
        if typing.get_origin(annotation) in (typing.Union, UnionType):
            annotation = next((arg for arg in typing.get_args(annotation) if arg is not type(None)), None)
        current = annotation
    return dict(current.model_fields) if isinstance(current, type) and issubclass(current, BaseModel) else {}


def _dotted(loc: tuple[Any, ...]) -> str:
    text = ""
    for part in loc:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text
