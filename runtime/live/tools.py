"""`ToolRunner`: runs the agent's python, http and MCP tools for the model, never letting one crash a session.

Every failure — bad arguments, an exception, a timeout, a non-2xx answer — becomes `{"error": "..."}`
for the model. A sync Python tool runs in a worker thread; on timeout the model gets its error at once but
the thread cannot be killed and runs to its end in the background.
"""

from __future__ import annotations

import functools
import inspect
import json
import logging
import time
from collections.abc import Callable, Sequence
from typing import Any, Protocol

import anyio

from runtime.agentfile.resolved_tools import ResolvedTool
from runtime.agentfile.spec import Tool
from runtime.guards.redact import SECRETS
from runtime.live.events import ToolOutcome
from runtime.live.http_tools import RESPONSE_LIMIT_BYTES, ToolCallError, call_http

__all__ = ["RESULT_LIMIT_BYTES", "RunTimeTools", "ToolRunner", "as_response", "bounded", "validation_error"]

logger = logging.getLogger(__name__)

RESULT_LIMIT_BYTES = RESPONSE_LIMIT_BYTES + 1024
"""Largest tool result, as JSON, sent to the model (an HTTP body of 64 KiB plus its envelope)."""


class RunTimeTools(Protocol):
    """Tools known only once the agent runs, whose list may change (its MCP servers: `runtime.mcp.toolset`)."""

    def declarations(self) -> list[ResolvedTool]:
        """What the model is told now."""
        ...

    def input_schema(self, name: str) -> dict[str, Any] | None:
        """The schema a call's arguments must satisfy (None: no such tool)."""
        ...

    async def call(self, name: str, args: dict[str, Any]) -> dict[str, Any]:
        """One call to completion; cancellation propagates."""
        ...


class ToolRunner:
    """The tools of one agent as the loader resolved them (nothing is imported here), and its run-time tools;
    `call` runs one call to completion and always returns."""

    def __init__(self, tools: Sequence[ResolvedTool], *, later: RunTimeTools | None = None) -> None:
        self.functions = tuple(tools)
        self.later = later
        self._functions: dict[str, Callable[..., Any]] = {
            tool.name: tool.function for tool in self.functions if tool.function is not None
        }

    @property
    def resolved(self) -> tuple[ResolvedTool, ...]:
        """Every tool the model is told of now: the agent's functions, then its run-time tools."""
        return self.functions + tuple(self.later.declarations() if self.later is not None else ())

    @property
    def tools(self) -> dict[str, Tool]:
        return {tool.name: tool.tool for tool in self.resolved}

    @property
    def parameters(self) -> dict[str, dict[str, Any]]:
        return {tool.name: tool.parameters for tool in self.resolved}

    async def call(self, name: str, call_id: str, args: dict[str, Any]) -> ToolOutcome:
        """Run one call; cancellation (toolCallCancellation) propagates, everything else is a result."""
        started = time.monotonic()
        declared = any(tool.name == name for tool in self.resolved)
        # A service that echoes its request could hand a token back to the model: redact every result.
        result = SECRETS.redact_value(bounded(await self._result(name, args)))
        duration_s = time.monotonic() - started
        ok = "error" not in result
        outcome = ToolOutcome(name=name, call_id=call_id, args=args, result=result, duration_s=duration_s, ok=ok,
                              declared=declared)
        if ok:
            logger.info("tool %s (%s) ok in %.3f s", name, call_id, duration_s)
        else:
            logger.warning("tool %s (%s) failed in %.3f s: %s", name, call_id, duration_s, result["error"])
        logger.debug("tool %s (%s) args %s", name, call_id, args)
        return outcome

    async def _result(self, name: str, args: dict[str, Any]) -> dict[str, Any]:
        found = next((tool for tool in self.resolved if tool.name == name), None)
        if found is None:
            return {"error": f"unknown tool {name!r}"}
        tool = found.tool
        later = self.later if name not in self._functions and tool.http is None else None
        schema = later.input_schema(name) if later is not None else found.parameters
        problem = validation_error(schema or found.parameters, args)
        if problem is not None:
            return {"error": f"invalid arguments: {problem}"}
        try:
            with anyio.fail_after(tool.timeout_s):
                if later is not None:
                    return await later.call(name, args)
                if tool.http is not None:
                    request_timeout_s = tool.http.timeout_s or tool.timeout_s
                    return await call_http(tool.http, args, timeout_s=request_timeout_s)
                return await self._call_python(self._functions[name], args)
        except TimeoutError:
            return {"error": f"tool {name} timed out after {tool.timeout_s:g} s"}
        except ToolCallError as exc:
            return {"error": str(exc)}
        except Exception as exc:
            logger.debug("tool %s raised", name, exc_info=True)
            return {"error": f"{type(exc).__name__}: {exc}"}

    @staticmethod
    async def _call_python(func: Callable[..., Any], args: dict[str, Any]) -> dict[str, Any]:
        if inspect.iscoroutinefunction(func):
            value = await func(**args)
        else:
            value = await anyio.to_thread.run_sync(functools.partial(func, **args), abandon_on_cancel=True)
        return as_response(value)


def as_response(value: Any) -> dict[str, Any]:
    """A tool's return value as a JSON object for the model: dicts as they are, anything else under "result"."""
    response = value if isinstance(value, dict) else {"result": value}
    return dict(json.loads(json.dumps(response, default=str)))


def bounded(result: dict[str, Any]) -> dict[str, Any]:
    """A result the model can take: about 64 KiB of JSON at most (a huge frame would end the connection)."""
    if len(json.dumps(result)) <= RESULT_LIMIT_BYTES:
        return result
    note = f"truncated to the first {RESPONSE_LIMIT_BYTES // 1024} KiB"
    if isinstance(result.get("error"), str):
        key, text = "error", result["error"]
    elif set(result) == {"result"} and isinstance(result["result"], str):
        key, text = "result", result["result"]
    else:
        key, text = "result", json.dumps(result)
    keep = RESPONSE_LIMIT_BYTES
    while True:  # escaping can make a cut string longer as JSON than as text
        capped = {key: text[:keep], "note": note}
        if len(json.dumps(capped)) <= RESULT_LIMIT_BYTES:
            return capped
        keep //= 2


def validation_error(schema: dict[str, Any], args: dict[str, Any]) -> str | None:
    """The first way `args` breaks the declared JSON Schema, or None.

    jsonschema is imported at the first call: it costs 2.7 MB of memory, and many agents never call a tool.
    """
    import jsonschema  # type: ignore[import-untyped]

    validator_cls = jsonschema.validators.validator_for(schema)
    error = jsonschema.exceptions.best_match(validator_cls(schema).iter_errors(args))
    if error is None:
        return None
    where = ".".join(str(part) for part in error.absolute_path)
    return f"{where}: {error.message}" if where else error.message
