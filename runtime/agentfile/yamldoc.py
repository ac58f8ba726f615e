"""A safe YAML reader that remembers where every key and value was written.

Threat model: agent files are shared, copied from the internet and edited by hand on small devices. So:
- Only the YAML 1.2 core schema is understood (strings, numbers, true/false, null, mappings, lists). Any
  other tag — `!!python/object`, `!!binary`, `!custom` — is refused: tags are how YAML loaders have been
  made to run code, and a config format has no use for them. (YAML 1.2 also means `no` stays the string
  "no" — the Norway problem — and `on:`/`off:` are plain keys.)
- Aliases (`*name`) are refused altogether, which makes "billion laughs" expansion impossible rather than
  merely limited; one agent per file leaves little to share anyway.
- Nesting deeper than `MAX_DEPTH` and more than `MAX_NODES` nodes are refused while parsing, before
  recursion or memory can grow; the file size is capped by the caller, so the whole parse is bounded.
- Duplicate keys are errors (plain PyYAML silently keeps the last one, so an edit can vanish).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from yaml import events, nodes
from yaml.composer import Composer
from yaml.error import Mark, MarkedYAMLError, YAMLError
from yaml.parser import Parser
from yaml.reader import Reader, ReaderError
from yaml.resolver import BaseResolver
from yaml.scanner import Scanner

from runtime.errors import Location, RuntimeConfigError

MAX_DEPTH = 50
MAX_NODES = 10_000
"""Keys, values and list items in one file: an agent with many tools has a few hundred; PyYAML keeps about
300 bytes per node, so the cap also bounds memory (a 1 MiB file of `1,1,1,...` would otherwise need 300 MiB)."""
MAX_ERRORS = 50
"""Errors reported per file; past this the file is clearly not an agent file and listing more helps nobody."""

KeyPath = tuple[str | int, ...]
"""Where a value sits in the document: keys and list indices from the root, like pydantic's `loc`."""

_CORE = "tag:yaml.org,2002:"
STR, INT, FLOAT, BOOL, NULL = (f"{_CORE}{kind}" for kind in ("str", "int", "float", "bool", "null"))
MAP, SEQ = f"{_CORE}map", f"{_CORE}seq"


class _CoreResolver(BaseResolver):
    """Implicit typing of plain scalars by the YAML 1.2 core schema."""


_CoreResolver.add_implicit_resolver(BOOL, re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF"))
_CoreResolver.add_implicit_resolver(INT, re.compile(r"^(?:[-+]?[0-9]+|0o[0-7]+|0x[0-9a-fA-F]+)$"), list("-+0123456789"))
_CoreResolver.add_implicit_resolver(
    FLOAT,
    re.compile(
        r"^(?:[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$"
    ),
    list("-+0123456789."),
)
_CoreResolver.add_implicit_resolver(NULL, re.compile(r"^(?:~|null|Null|NULL|)$"), ["~", "n", "N", ""])


class _Refused(Exception):
    """The composer met something this reader refuses (alias, deep nesting)."""

    def __init__(self, mark: Any, message: str, hint: str) -> None:
        super().__init__(message)
        self.mark, self.message, self.hint = mark, message, hint


class _GuardedComposer(Composer):
    """PyYAML's composer up to the node graph, refusing aliases, deep nesting and too many nodes as it goes."""

    depth = 0
    node_count = 0

    if TYPE_CHECKING:  # provided by the parser half of each loader

        def check_event(self, *choices: type[events.Event]) -> bool: ...
        def peek_event(self) -> events.Event: ...
        def dispose(self) -> None: ...

    def compose_node(self, parent: nodes.Node | None, index: int) -> nodes.Node | None:
        if self.check_event(events.AliasEvent):
            raise _Refused(
                self.peek_event().start_mark,
                "YAML aliases (`*name`) are not supported",
                "write the value out in full",
            )
        self.depth += 1
        self.node_count += 1
        try:
            if self.node_count > MAX_NODES:
                raise _Refused(
                    self.peek_event().start_mark,
                    f"the file has more than {MAX_NODES} keys and values",
                    "an agent file is small; is this the right file?",
                )
            if self.depth > MAX_DEPTH:
                raise _Refused(
                    self.peek_event().start_mark,
                    f"the file is nested more than {MAX_DEPTH} levels deep",
                    "an agent file needs only a few levels",
                )
            return super().compose_node(parent, index)
        finally:
            self.depth -= 1


class _Loader(Reader, Scanner, Parser, _GuardedComposer, _CoreResolver):
    """The pure-Python front end: events → nodes; no constructor, so no object is ever built from a tag."""

    def __init__(self, text: str) -> None:
        Reader.__init__(self, text)
        Scanner.__init__(self)
        Parser.__init__(self)
        _GuardedComposer.__init__(self)
        _CoreResolver.__init__(self)


def _make_loader(text: str, use_libyaml: bool) -> _GuardedComposer:
    """libyaml's parser (about five times faster) under our composer when PyYAML has it, else pure Python."""
    if use_libyaml and _CLoader is not None:
        return _CLoader(text)
    return _Loader(text)


_CLoader: Callable[[str], _GuardedComposer] | None = None
try:
    from yaml._yaml import CParser
except ImportError:  # PyYAML built without libyaml
    pass
else:

    class _CLoaderImpl(_GuardedComposer, CParser, _CoreResolver):
        """libyaml events (with character-index marks) → our composer → nodes."""

        def __init__(self, text: str) -> None:
            CParser.__init__(self, text)
            _GuardedComposer.__init__(self)
            _CoreResolver.__init__(self)

    _CLoader = _CLoaderImpl


@dataclass(frozen=True)
class Position:
    """Where a key and its value are written (the key is None for list items and the root)."""

    key: Location | None
    value: Location


StringHook = Callable[[str, nodes.ScalarNode, KeyPath], str]
"""Called on every string value (interpolation); may append to `Document.errors`."""


@dataclass
class Document:
    """Plain Python data of one YAML document, with the position of every key and value."""

    path: str
    source: str
    value: Any = None
    positions: dict[KeyPath, Position] = field(default_factory=dict)
    errors: list[RuntimeConfigError] = field(default_factory=list)

    def known_prefix(self, loc: tuple[Any, ...]) -> KeyPath:
        """The longest prefix of `loc` that was written in the file."""
        for end in range(len(loc), 0, -1):
            if loc[:end] in self.positions:
                return tuple(loc[:end])
        return ()

    def locate(self, loc: tuple[Any, ...], *, key: bool = False) -> Location:
        """Where `loc` (or its nearest written parent) is: its key if `key` and it has one, else its value."""
        position = self.positions.get(self.known_prefix(loc))
        if position is None:
            return Location(self.path, 1, 1)
        if key and position.key is not None:
            return position.key
        return position.value

    def has(self, loc: KeyPath) -> bool:
        """Whether the user wrote this key (rather than relying on its default)."""
        return loc in self.positions

    def location_at(self, index: int) -> Location:
        """The location of a character offset in the source."""
        line = self.source.count("\n", 0, index) + 1
        column = index - (self.source.rfind("\n", 0, index) + 1) + 1
        return Location(self.path, line, column)

    def error(self, location: Location, message: str, hint: str = "") -> None:
        """Record an error; past `MAX_ERRORS` only a last one saying so."""
        if len(self.errors) < MAX_ERRORS:
            self.errors.append(RuntimeConfigError(location, message, hint))
        elif len(self.errors) == MAX_ERRORS:
            self.errors.append(RuntimeConfigError(location, f"more than {MAX_ERRORS} errors; stopping here"))


def display_tag(tag: str) -> str:
    """`!!python/object` rather than `tag:yaml.org,2002:python/object`."""
    return "!!" + tag.removeprefix(_CORE) if tag.startswith(_CORE) else tag


_SYNTAX_HINTS = (
    ("could not find expected ':'", "", "a key needs a colon and a space after it (`key: value`)"),
    ("mapping values are not allowed here", "", "put a space after the colon, or quote a value that holds `: `"),
    ("expected <block end>", "", "check the indentation of this line against the lines above"),
    ("found unexpected end of stream", "", "a quote or bracket is not closed"),
    ("'<stream end>'", "", "a bracket or quote opened earlier is not closed"),
    ("did not find expected ',' or", "", "a bracket opened earlier is not closed, or a comma is missing"),
    ("expected a single document", "", "one agent per file: remove the `---` and the second document"),
    ("found duplicate anchor", "", "anchors are not needed: aliases are not supported"),
)


def _syntax_error(doc: Document, error: YAMLError) -> RuntimeConfigError:
    if isinstance(error, ReaderError):
        return RuntimeConfigError(
            doc.location_at(error.position),
            f"the file contains the control character U+{int(error.character):04X}",
            "remove it: agent files are plain text",
        )
    mark = getattr(error, "problem_mark", None) or getattr(error, "context_mark", None)
    location = Location(doc.path, mark.line + 1, mark.column + 1) if mark is not None else Location(doc.path, 1, 1)
    problem = getattr(error, "problem", None) or str(error)
    context = getattr(error, "context", None)
    message = f"invalid YAML: {problem}"
    if context and isinstance(error, MarkedYAMLError) and error.context_mark is not None:
        message += f" ({context} at line {error.context_mark.line + 1})"
    text = f"{problem} {context or ''}"
    hint = next((h for needle, also, h in _SYNTAX_HINTS if needle in text and also in text), "")
    if mark is not None and doc.source[mark.index : mark.index + 1] == "\t":
        hint = "indent with spaces: YAML does not allow tabs"
    return RuntimeConfigError(location, message, hint)


def compose(doc: Document, *, use_libyaml: bool = True) -> nodes.Node | None:
    """The node graph of the single document in `doc.source`; raises the located syntax error."""
    loader: _GuardedComposer | None = None
    try:
        loader = _make_loader(doc.source, use_libyaml)
        return loader.get_single_node()
    except _Refused as refused:
        location = Location(doc.path, refused.mark.line + 1, refused.mark.column + 1)
        raise RuntimeConfigError(location, refused.message, refused.hint) from None
    except YAMLError as error:
        raise _syntax_error(doc, error) from None
    except RecursionError:  # defence in depth: MAX_DEPTH stops nesting long before this
        raise RuntimeConfigError(Location(doc.path, 1, 1), "the file is nested too deeply", "") from None
    finally:
        if loader is not None:
            loader.dispose()


def parse(doc: Document, on_string: StringHook, *, use_libyaml: bool = True) -> None:
    """Fill `doc.value` and `doc.positions` from `doc.source`; structural errors go to `doc.errors`."""
    root = compose(doc, use_libyaml=use_libyaml)
    if root is None:
        doc.value = None
        return
    doc.positions[()] = Position(None, _loc(doc, root.start_mark))
    doc.value = _Builder(doc, on_string).build(root, ())


def _loc(doc: Document, mark: Mark) -> Location:
    return Location(doc.path, mark.line + 1, mark.column + 1)


class _Builder:
    """Node graph → dicts, lists and scalars; every refused construct is recorded, building goes on."""

    def __init__(self, doc: Document, on_string: StringHook) -> None:
        self.doc = doc
        self.on_string = on_string

    def build(self, node: nodes.Node, path: KeyPath) -> Any:
        if isinstance(node, nodes.MappingNode):
            return self._mapping(node, path) if self._tag_ok(node, MAP) else None
        if isinstance(node, nodes.SequenceNode):
            if not self._tag_ok(node, SEQ):
                return None
            items = []
            for index, item in enumerate(node.value):
                self.doc.positions[(*path, index)] = Position(None, _loc(self.doc, item.start_mark))
                items.append(self.build(item, (*path, index)))
            return items
        assert isinstance(node, nodes.ScalarNode)
        return self._scalar(node, path)

    def _tag_ok(self, node: nodes.Node, expected: str) -> bool:
        if node.tag == expected:
            return True
        self._refuse_tag(node)
        return False

    def _refuse_tag(self, node: nodes.Node) -> None:
        self.doc.error(
            _loc(self.doc, node.start_mark),
            f"the tag `{display_tag(node.tag)}` is not allowed",
            "agent files use plain YAML values only; remove the tag",
        )

    def _mapping(self, node: nodes.MappingNode, path: KeyPath) -> dict[str, Any]:
        result: dict[str, Any] = {}
        first_line: dict[str, int] = {}
        for key_node, value_node in node.value:
            key_location = _loc(self.doc, key_node.start_mark)
            if not isinstance(key_node, nodes.ScalarNode) or key_node.tag not in (STR, INT, FLOAT, BOOL, NULL):
                if isinstance(key_node, nodes.ScalarNode):
                    self._refuse_tag(key_node)
                else:
                    self.doc.error(key_location, "a key must be a plain name", "write `name: value`")
                continue
            key = key_node.value
            if key in first_line:
                self.doc.error(
                    key_location,
                    f"duplicate key `{key}` (first set on line {first_line[key]})",
                    "remove one of them: YAML keeps only one value per key",
                )
                continue
            first_line[key] = key_location.line
            child = (*path, key)
            self.doc.positions[child] = Position(key_location, _loc(self.doc, value_node.start_mark))
            result[key] = self.build(value_node, child)
        return result

    def _scalar(self, node: nodes.ScalarNode, path: KeyPath) -> Any:
        text: str = node.value
        try:
            if node.tag == STR:
                return self.on_string(text, node, path)
            if node.tag == NULL and text in ("", "~", "null", "Null", "NULL"):
                return None
            if node.tag == BOOL and text.lower() in ("true", "false"):
                return text.lower() == "true"
            if node.tag == INT:
                return int(text, 0) if text[:2].lower() in ("0o", "0x") else int(text, 10)
            if node.tag == FLOAT:
                return float(text.lower().replace(".inf", "inf").replace(".nan", "nan"))
        except ValueError:
            self.doc.error(
                _loc(self.doc, node.start_mark),
                f"`{text}` is not a valid {display_tag(node.tag).removeprefix('!!')}",
                "remove the tag or fix the value",
            )
            return None
        if node.tag in (NULL, BOOL):
            self.doc.error(_loc(self.doc, node.start_mark), f"`{text}` is not a valid {display_tag(node.tag)}", "")
            return None
        self._refuse_tag(node)
        return None
