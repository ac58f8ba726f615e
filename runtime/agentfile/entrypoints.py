"""Python tools: find `module:function` beside the agent file (then in installed packages), describe it as JSON.

Importing a tool module runs its code, at validation as at run time: an agent directory is trusted like a
Python project. What this module guards against is confusion, not hostile code: a module or package beside
the agent file is loaded under a private name keyed by its path and the modification times of all its files,
so two agent directories with a `tools.py` (or a `tools/` package) each never get each other's functions,
and an edited module or package is loaded afresh. Inside a package, import its own modules relatively
(`from . import helpers`): `import tools.helpers` would find whichever `tools` the process imported first.
Module names are identifiers (the spec's pattern), so an entry point cannot reach outside its directory.
"""

from __future__ import annotations

import enum
import hashlib
import importlib
import importlib.util
import inspect
import re
import sys
import threading
import types
import typing
from collections.abc import Callable, Iterator
from contextlib import contextmanager, redirect_stdout, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from runtime.errors import AgentRuntimeError

__all__ = ["EntryPointError", "derive_parameters", "docstring_summary", "resolve_entry_point", "source_files"]

_JSON_TYPES: dict[Any, str] = {str: "string", int: "integer", float: "number", bool: "boolean"}
_SUPPORTED = "str, int, float, bool, list, dict, Literal[...], an Enum or Optional of these"


class EntryPointError(AgentRuntimeError):
    """An entry point cannot be imported, is not callable, or cannot be described to the model."""

    def __init__(self, message: str, hint: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint


_lock = threading.RLock()
_modules: dict[tuple[str, tuple[tuple[str, int, int], ...]], types.ModuleType] = {}


def resolve_entry_point(entry: str, base_dir: Path) -> Callable[..., Any]:
    """The callable named by `module:attr`, looked up in `base_dir` first, then in installed packages."""
    module_name, _, attribute = entry.partition(":")
    if not module_name or not attribute:
        raise EntryPointError(f"`{entry}` is not an entry point", "write `module:function`")
    target: Any = _import(module_name, base_dir)
    for part in attribute.split("."):
        if not hasattr(target, part):
            public = [name for name in dir(target) if not name.startswith("_")]
            close = [name for name in public if name.lower() == part.lower()] or _close(part, public)
            hint = f"did you mean `{module_name}:{close[0]}`?" if close else f"define `{part}` in `{module_name}`"
            raise EntryPointError(f"`{module_name}` has no attribute `{attribute}`", hint)
        target = getattr(target, part)
    if not callable(target):
        raise EntryPointError(f"`{entry}` is not callable", "point `python` at a function")
    return typing.cast(Callable[..., Any], target)


def _close(name: str, candidates: list[str]) -> list[str]:
    import difflib

    return difflib.get_close_matches(name, candidates, n=1, cutoff=0.6)


@dataclass(frozen=True)
class _Beside:
    """The module file or package directory beside the agent file that provides a top-level module."""

    top: str
    root: Path
    """`top.py`, or the package directory `top/`."""
    files: tuple[Path, ...]
    """Every Python file it consists of (a package's, at any depth), in name order."""

    @property
    def is_package(self) -> bool:
        return self.root.is_dir()


def _beside(module_name: str, base_dir: Path) -> _Beside | None:
    """What provides the top-level module inside `base_dir`, if anything does (a file before a package)."""
    top = module_name.split(".")[0]
    module_file, package = base_dir / f"{top}.py", base_dir / top
    if module_file.is_file():
        return _Beside(top, module_file, (module_file,))
    if (package / "__init__.py").is_file():
        return _Beside(top, package, tuple(sorted(p for p in package.rglob("*.py") if p.is_file())))
    return None


def source_files(module_name: str, base_dir: Path) -> tuple[Path, ...]:
    """The Python files beside the agent file that `module_name` comes from (none for an installed module)."""
    beside = _beside(module_name, base_dir)
    return beside.files if beside is not None else ()


def _import(module_name: str, base_dir: Path) -> types.ModuleType:
    beside = _beside(module_name, base_dir)
    # One import at a time (sys.path is shared), and whatever a module prints on import goes to stderr:
    # `runtime validate --format json` owns stdout.
    try:
        with _lock, redirect_stdout(sys.stderr):
            if beside is not None and (beside.is_package or "." not in module_name):
                return _import_beside(module_name, beside, base_dir)
            with _on_path(base_dir if beside is not None else None):
                return importlib.import_module(module_name)
    except EntryPointError:
        raise
    except ModuleNotFoundError as error:
        if error.name and (module_name == error.name or module_name.startswith(error.name + ".")):
            raise EntryPointError(
                f"module `{module_name}` not found",
                f"put `{module_name.split('.')[0]}.py` beside the agent file or install the package that provides it",
            ) from None
        raise EntryPointError(f"importing `{module_name}` failed: {_describe_exception(error)}") from None
    except (Exception, SystemExit) as error:  # the user's module raised on import: report it, located
        raise EntryPointError(f"importing `{module_name}` failed: {_describe_exception(error)}") from None


def _describe_exception(error: BaseException) -> str:
    """`Type: message (file.py:line)`, the line being the deepest one outside the import machinery."""
    where = ""
    trace = error.__traceback__
    while trace is not None:
        code = trace.tb_frame.f_code
        if not code.co_filename.startswith("<"):
            where = f" ({Path(code.co_filename).name}:{trace.tb_lineno})"
        trace = trace.tb_next
    message = str(error)
    return f"{type(error).__name__}: {message}{where}" if message else f"{type(error).__name__}{where}"


def _import_beside(module_name: str, beside: _Beside, base_dir: Path) -> types.ModuleType:
    """The module (or a package's submodule) under a private name unique to its path and the modification
    times of all its files: another directory's `tools` is another module, an edited one is imported anew,
    and a package's relative imports resolve inside the private name."""
    root = str(beside.root.resolve())
    key = (root, tuple((str(f), status.st_mtime_ns, status.st_size) for f in beside.files for status in [f.stat()]))
    module = _modules.get(key)
    if module is None:
        module = _exec_private(beside, hashlib.sha1(repr(key).encode()).hexdigest()[:12], base_dir)
        # The older version stays in `sys.modules`: a session still running it may import lazily from it.
        for stale in [other for other in _modules if other[0] == root]:
            del _modules[stale]
        _modules[key] = module
    submodule = module_name.partition(".")[2]
    if not submodule:
        return module
    try:
        with _on_path(base_dir):
            return importlib.import_module(f"{module.__name__}.{submodule}")
    except ModuleNotFoundError as error:
        if error.name and f"{module.__name__}.{submodule}".startswith(error.name):
            raise EntryPointError(
                f"module `{module_name}` not found",
                f"put `{submodule.replace('.', '/')}.py` in the package `{beside.top}/`",
            ) from None
        raise


def _exec_private(beside: _Beside, digest: str, base_dir: Path) -> types.ModuleType:
    private_name = f"_runtime_agent_{digest}_{beside.top}"
    if beside.is_package:
        spec = importlib.util.spec_from_file_location(
            private_name, beside.root / "__init__.py", submodule_search_locations=[str(beside.root)]
        )
    else:
        spec = importlib.util.spec_from_file_location(private_name, beside.root)
    if spec is None or spec.loader is None:
        raise EntryPointError(f"cannot load `{beside.root}` as a Python module")
    module = importlib.util.module_from_spec(spec)
    sys.modules[private_name] = module
    try:
        with _on_path(base_dir):
            spec.loader.exec_module(module)
    except BaseException:
        _forget(private_name)
        raise
    return module


def _forget(private_name: str) -> None:
    """Drop a private module that failed to import, and whatever of its submodules it imported."""
    for name in [name for name in sys.modules if name == private_name or name.startswith(private_name + ".")]:
        del sys.modules[name]


@contextmanager
def _on_path(directory: Path | None) -> Iterator[None]:
    """`directory` first on `sys.path` for the duration of an import (for the module's own imports)."""
    if directory is None:
        yield
        return
    entry = str(directory)
    sys.path.insert(0, entry)
    try:
        yield
    finally:
        with suppress(ValueError):
            sys.path.remove(entry)


def docstring_summary(func: Callable[..., Any]) -> str:
    """The first paragraph of the function's docstring: its description for the model."""
    doc = inspect.getdoc(func) or ""
    return doc.split("\n\n")[0].replace("\n", " ").strip()


def derive_parameters(func: Callable[..., Any]) -> dict[str, Any]:
    """The JSON Schema (type object) of a function's parameters, from its type hints and docstring."""
    target = func if inspect.isroutine(func) or inspect.isclass(func) else type(func).__call__
    try:
        signature = inspect.signature(func)
        hints = typing.get_type_hints(target.__init__ if inspect.isclass(target) else target, include_extras=True)
    except Exception as error:  # unresolvable forward references, C functions without signatures
        raise EntryPointError(
            f"cannot read the signature of `{_name(func)}`: {error}", "give `parameters` in the agent file"
        ) from None
    docs = _argument_docs(inspect.getdoc(func) or "")
    properties: dict[str, Any] = {}
    required: list[str] = []
    for name, parameter in signature.parameters.items():
        if parameter.kind in (parameter.VAR_POSITIONAL, parameter.VAR_KEYWORD):
            raise EntryPointError(
                f"parameter `{name}` of `{_name(func)}` takes any number of arguments, which the model cannot see",
                "list the parameters one by one, or give `parameters` in the agent file",
            )
        if name not in hints:
            raise EntryPointError(
                f"parameter `{name}` of `{_name(func)}` has no type hint",
                f"annotate it ({_SUPPORTED}) or give `parameters` in the agent file",
            )
        schema, optional = _schema_of(hints[name], f"parameter `{name}` of `{_name(func)}`")
        if docs.get(name) and "description" not in schema:
            schema["description"] = docs[name]
        properties[name] = schema
        if parameter.default is parameter.empty and not optional:
            required.append(name)
    result: dict[str, Any] = {"type": "object", "properties": properties}
    if required:
        result["required"] = required
    return result


def _name(func: Callable[..., Any]) -> str:
    return getattr(func, "__qualname__", None) or type(func).__name__


def _schema_of(annotation: Any, what: str) -> tuple[dict[str, Any], bool]:
    """(schema, optional) of one annotation."""
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if origin is typing.Annotated:
        schema, optional = _schema_of(args[0], what)
        notes = [note for note in args[1:] if isinstance(note, str)]
        if notes:
            schema["description"] = notes[0]
        return schema, optional
    if origin in (typing.Union, types.UnionType):
        members = [arg for arg in args if arg is not type(None)]
        if len(members) == 1 and len(args) == 2:
            schema, _ = _schema_of(members[0], what)
            return {**schema, "nullable": True}, True
        raise EntryPointError(f"{what} is a union of several types", f"use one of {_SUPPORTED}")
    return _plain_schema(annotation, origin, args, what), False


def _plain_schema(annotation: Any, origin: Any, args: tuple[Any, ...], what: str) -> dict[str, Any]:
    if annotation in _JSON_TYPES:
        return {"type": _JSON_TYPES[annotation]}
    if origin is typing.Literal:
        kinds = {_JSON_TYPES.get(type(value)) for value in args}
        if len(kinds) != 1 or None in kinds:
            raise EntryPointError(f"{what}: Literal values must all be str, int, float or bool")
        return {"type": kinds.pop(), "enum": list(args)}
    if inspect.isclass(annotation) and issubclass(annotation, enum.Enum):
        values = [member.value for member in annotation]
        kinds = {_JSON_TYPES.get(type(value)) for value in values}
        if len(kinds) == 1 and None not in kinds:
            return {"type": kinds.pop(), "enum": values}
    if annotation is list or origin is list:
        return {"type": "array", "items": _schema_of(args[0], what)[0]} if args else {"type": "array"}
    if annotation is dict or origin is dict:
        return {"type": "object"}
    raise EntryPointError(f"{what} has the type `{annotation}`, which cannot be described as JSON", f"use {_SUPPORTED}")


_ARGUMENT_LINE = re.compile(r"^\s+(\*{0,2}\w+)\s*(?:\([^)]*\))?\s*:\s*(.*)$")


def _argument_docs(doc: str) -> dict[str, str]:
    """Per-argument descriptions from a Google-style `Args:` section (ends at a blank or unindented line)."""
    found: dict[str, str] = {}
    in_section, indent, current = False, -1, ""
    for line in doc.splitlines():
        stripped = line.strip()
        if stripped in ("Args:", "Arguments:", "Parameters:"):
            in_section, indent, current = True, -1, ""
            continue
        if not in_section:
            continue
        if not stripped or not line[:1].isspace():
            in_section = False
            continue
        depth = len(line) - len(line.lstrip())
        match = _ARGUMENT_LINE.match(line)
        if match and indent in (-1, depth):
            indent, current = depth, match.group(1).lstrip("*")
            found[current] = match.group(2).strip()
        elif current:
            found[current] = f"{found[current]} {stripped}".strip()
    return found
