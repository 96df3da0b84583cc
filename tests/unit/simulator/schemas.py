"""A JSON schema that uses every keyword the simulator's value builder honours."""

from typing import Any

ORDER_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "id": {"type": "string", "format": "uuid"},
        "status": {"enum": ["open", "paid", "shipped"]},
        "total": {"type": "number", "minimum": 0, "exclusiveMaximum": 1000},
        "quantity": {"type": "integer", "minimum": 1, "maximum": 5},
        "express": {"type": "boolean"},
        "note": {"type": ["string", "null"], "maxLength": 12},
        "placed_at": {"type": "string", "format": "date-time"},
        "email": {"type": "string", "format": "email"},
        "code": {"type": "string", "minLength": 30},
        "customer": {"$ref": "#/$defs/Customer"},
        "lines": {
            "type": "array",
            "items": {"$ref": "#/$defs/Line"},
            "minItems": 2,
            "maxItems": 4,
        },
        "tags": {
            "type": "array",
            "items": {"type": "string", "enum": ["a", "b", "c"]},
            "uniqueItems": True,
            "maxItems": 3,
        },
        "discount": {
            "anyOf": [{"type": "number", "multipleOf": 0.5}, {"type": "null"}]
        },
        "kind": {"const": "order"},
        "extra": {
            "allOf": [{"type": "object", "properties": {"x": {"type": "integer"}}}]
        },
    },
    "required": ["id", "status", "total", "customer", "lines", "kind"],
    "additionalProperties": False,
    "$defs": {
        "Customer": {
            "type": "object",
            "properties": {
                "name": {"type": "string"},
                "tier": {"type": "string", "enum": ["gold", "silver"]},
                "address": {
                    "type": "object",
                    "properties": {"city": {"type": "string"}},
                    "required": ["city"],
                },
            },
            "required": ["name", "tier", "address"],
        },
        "Line": {
            "type": "object",
            "properties": {
                "sku": {"type": "string"},
                "amount": {"type": "integer", "exclusiveMinimum": 0},
            },
            "required": ["sku", "amount"],
            "additionalProperties": False,
        },
    },
}
