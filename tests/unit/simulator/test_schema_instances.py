"""Values built from a JSON schema validate against it, deterministically per seed."""

import random
import re
from typing import Any

import jsonschema_rs
import pytest

from simulator.schema_instances import SchemaError, build_instance
from tests.unit.simulator.schemas import ORDER_SCHEMA


@pytest.mark.parametrize("seed", range(40))
def test_built_instances_validate_against_the_schema(seed: int) -> None:
    instance = build_instance(ORDER_SCHEMA, random.Random(seed))
    jsonschema_rs.validate(ORDER_SCHEMA, instance)
    assert set(instance) == set(ORDER_SCHEMA["properties"])


def test_built_instances_are_deterministic_per_seed() -> None:
    first = build_instance(ORDER_SCHEMA, random.Random("a"))
    assert build_instance(ORDER_SCHEMA, random.Random("a")) == first
    others = [build_instance(ORDER_SCHEMA, random.Random(n)) for n in range(5)]
    assert any(other != first for other in others)


@pytest.mark.parametrize(
    "schema",
    [
        {"type": "string"},
        {"type": "array", "prefixItems": [{"type": "integer"}, {"type": "string"}]},
        {"type": "object", "additionalProperties": {"type": "integer"}},
        {"oneOf": [{"type": "integer"}, {"type": "string"}]},
        {"type": "integer", "minimum": 10, "maximum": 10},
        {"type": "number", "exclusiveMinimum": 1, "exclusiveMaximum": 2},
        {"type": "string", "format": "date"},
        {"type": "string", "format": "uri"},
        {"$ref": "#/definitions/Item", "definitions": {"Item": {"type": "boolean"}}},
    ],
)
def test_built_instances_fit_other_schema_shapes(schema: dict[str, Any]) -> None:
    jsonschema_rs.validate(schema, build_instance(schema, random.Random(1)))


def test_recursive_schema_ends_at_a_depth() -> None:
    schema = {
        "$defs": {
            "Node": {
                "type": "object",
                "properties": {
                    "name": {"type": "string"},
                    "children": {"type": "array", "items": {"$ref": "#/$defs/Node"}},
                },
                "required": ["name", "children"],
            }
        },
        "$ref": "#/$defs/Node",
    }
    jsonschema_rs.validate(schema, build_instance(schema, random.Random(3)))


@pytest.mark.parametrize(
    ("schema", "message"),
    [
        ({"$ref": "#/$defs/Missing"}, "#/$defs/Missing"),
        ({"$ref": "https://example.com/schema.json"}, "https://example.com"),
        ({"type": "strange"}, "strange"),
        ({"type": "integer", "minimum": 5, "maximum": 1}, "minimum"),
    ],
)
def test_schemas_no_instance_can_fit_raise_schema_error(
    schema: dict[str, Any], message: str
) -> None:
    with pytest.raises(SchemaError, match=re.escape(message)):
        build_instance(schema, random.Random(1))
