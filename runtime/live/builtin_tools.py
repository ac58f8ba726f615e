"""Gemini's own tools at work (`google_search`, `code_execution`), as the session reports any tool: a
`ToolOutcome`, so that `runtime chat`, the conversation log and the status events show them beside the agent's
functions. They run on Google's side; what the device sees is grounding metadata and the code with its result."""

from __future__ import annotations

from typing import TYPE_CHECKING

from runtime.live.events import ToolOutcome

if TYPE_CHECKING:
    from google.genai import types

__all__ = ["code_ran", "searched"]


def searched(grounding: types.GroundingMetadata) -> ToolOutcome:
    """A Google Search the model grounded its answer in: its queries and the web sources it used."""
    sources = [
        {"title": chunk.web.title or "", "uri": chunk.web.uri or ""}
        for chunk in grounding.grounding_chunks or []
        if chunk.web is not None
    ]
    queries = list(grounding.web_search_queries or [])
    return ToolOutcome("google_search", "", {"queries": queries}, {"sources": sources}, 0.0, ok=True, declared=True)


def code_ran(code: str, result: types.CodeExecutionResult) -> ToolOutcome:
    """Code the model wrote and ran: the code, the outcome and what it printed."""
    outcome = str(result.outcome.value if result.outcome is not None else "OUTCOME_UNSPECIFIED")
    ok = outcome == "OUTCOME_OK"
    response = {"outcome": outcome, "output": result.output or ""}
    return ToolOutcome("code_execution", "", {"code": code}, response, 0.0, ok=ok, declared=True)
