"""`response_format`: read it, and write the JSON a structured reply carries.

`json_schema` answers with a value built from the schema (simulator.schema_instances),
`json_object` with a small object quoting the prompt; `text` (or none) is plain text.
"""

import json
import random
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

from simulator.errors import SimError
from simulator.schema_instances import SchemaError, build_instance


class OutputKind(Enum):
    """What the reply's content must be."""

    TEXT = "text"
    JSON_OBJECT = "json_object"
    JSON_SCHEMA = "json_schema"


@dataclass(frozen=True, slots=True)
class OutputFormat:
    """The requested content format and, for `json_schema`, its schema."""

    kind: OutputKind = OutputKind.TEXT
    schema: Mapping[str, Any] = field(default_factory=dict)


PLAIN_TEXT = OutputFormat()


def _bad(message: str) -> SimError:
    return SimError(400, message)


def _schema(raw: object) -> Mapping[str, Any]:
    """Validate `response_format.json_schema` and return its schema."""
    if not isinstance(raw, dict):
        raise _bad(
            "response_format.json_schema must be an object: "
            '{"name": ..., "schema": {...}}'
        )
    schema = raw.get("schema")
    if not isinstance(schema, dict):
        raise _bad("response_format.json_schema.schema must be a JSON schema object")
    try:
        build_instance(schema, random.Random(0))
    except SchemaError as error:
        raise _bad(f"response_format.json_schema.schema: {error}") from None
    return schema


def parse_response_format(raw: object) -> OutputFormat:
    """Read `response_format`; raise SimError(400) naming the field at fault."""
    if raw is None:
        return PLAIN_TEXT
    if not isinstance(raw, dict):
        raise _bad('response_format must be an object such as {"type": "json_object"}')
    kind = next((kind for kind in OutputKind if kind.value == raw.get("type")), None)
    if kind is None:
        names = ", ".join(kind.value for kind in OutputKind)
        raise _bad(f"response_format.type must be one of {names}")
    if kind is OutputKind.JSON_SCHEMA:
        return OutputFormat(kind, _schema(raw.get("json_schema")))
    return OutputFormat(kind)


def structured_content(output: OutputFormat, rng: random.Random, text: str) -> str:
    """The content of a JSON reply; `text` is what a plain reply would say."""
    if output.kind is OutputKind.JSON_SCHEMA:
        value = build_instance(output.schema, rng)
    else:
        value = {"reply": text}
    return json.dumps(value, separators=(",", ":"))
