"""The base of every part of the agent file (`runtime.agentfile.spec`): frozen, unknown keys refused, docstrings
as the JSON Schema's descriptions, and a section with an `enabled` switch written as the switch alone."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, GetJsonSchemaHandler, model_validator
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import CoreSchema

SWITCH = "enabled"
"""A section with a field of this name may be written as a bare `true`/`false` (its switch)."""


class Section(BaseModel):
    """Base of every part of the agent file: frozen, unknown keys are errors, docstrings document keys.

    A section with an `enabled` switch also takes the switch alone (`compression: false` is
    `compression: {enabled: false}`): users write a switch as a switch, and refusing it helped nobody.
    """

    model_config = ConfigDict(extra="forbid", frozen=True, use_attribute_docstrings=True)

    @model_validator(mode="before")
    @classmethod
    def _switch_shorthand(cls, data: Any) -> Any:
        if isinstance(data, bool) and SWITCH in cls.model_fields:
            return {SWITCH: data}
        return data

    @classmethod
    def __get_pydantic_json_schema__(cls, core_schema: CoreSchema, handler: GetJsonSchemaHandler) -> JsonSchemaValue:
        schema = handler(core_schema)
        if SWITCH not in cls.model_fields:
            return schema
        # Editors must take the shorthand too; title and description stay on top for their hover text.
        described: dict[str, Any] = {key: schema.pop(key) for key in ("title", "description") if key in schema}
        shorthand = {"type": "boolean", "description": f"Shorthand for `{{{SWITCH}: true|false}}`."}
        return {**described, "anyOf": [schema, shorthand]}
