"""Values that validate against a JSON schema, drawn from a seeded RNG.

Covers what structured outputs and tool parameters use: `type` (or a list of
types), `properties` and `required`, `enum` and `const`, arrays (`items`,
`prefixItems`, `minItems`/`maxItems`, `uniqueItems`), nesting, local `$ref`s into
`$defs`/`definitions`, `anyOf`/`oneOf`/`allOf`, numeric bounds and `multipleOf`,
string lengths and the common `format`s. `pattern` is not honoured: no value can be
drawn for an arbitrary regular expression.
"""

import json
import random
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from simulator.schema_numbers import NoNumberFits, draw_integer, draw_number

Schema = Mapping[str, Any]

_SOFT_DEPTH = 6  # past it, only what the schema requires: recursive schemas end
_HARD_DEPTH = 40  # past it, the schema requires its own nesting without end
_WORDS = (
    *("amber", "brook", "cedar", "delta", "ember", "fjord", "grove", "harbor"),
    *("island", "juniper", "kestrel", "lumen", "meadow", "nova", "orchid"),
)
_TYPES = frozenset(
    {"string", "integer", "number", "boolean", "null", "object", "array"}
)
_OBJECT_WORDS = ("properties", "required", "additionalProperties")
_ARRAY_WORDS = ("items", "prefixItems", "minItems", "maxItems")
_NUMBER_WORDS = ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum")


class SchemaError(ValueError):
    """A schema no value can be built for: a broken `$ref`, an unknown type, ..."""


def build_instance(schema: object, rng: random.Random) -> Any:
    """Draw a value that validates against `schema`; raise SchemaError if none can."""
    if not isinstance(schema, Mapping):
        raise SchemaError("a schema must be a JSON object")
    return _Builder(schema, rng).build(schema, depth=0)


def _words(rng: random.Random, count: int) -> str:
    return " ".join(rng.choice(_WORDS) for _ in range(count))


def _formatted(form: str, rng: random.Random) -> str | None:
    """A value of a string `format`, or None for a format without a rule here."""
    day = f"2026-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}"
    clock = (
        f"{rng.randint(0, 23):02d}:{rng.randint(0, 59):02d}:{rng.randint(0, 59):02d}"
    )
    word = rng.choice(_WORDS)
    values = {
        "date-time": f"{day}T{clock}Z",
        "date": day,
        "time": f"{clock}Z",
        "email": f"{word}{rng.randint(1, 99)}@example.com",
        "uri": f"https://example.com/{word}",
        "url": f"https://example.com/{word}",
        "hostname": f"{word}.example.com",
        "ipv4": f"192.0.2.{rng.randint(1, 254)}",
        "uuid": str(uuid.UUID(int=rng.getrandbits(128), version=4)),
    }
    return values.get(form)


@dataclass
class _Builder:
    root: Schema
    rng: random.Random

    def build(self, schema: object, depth: int) -> Any:
        """Draw one value; `depth` counts the objects and arrays around it."""
        if depth > _HARD_DEPTH:
            raise SchemaError("the schema requires its own nesting without end")
        if schema is True or schema == {}:
            return _words(self.rng, 2)
        if not isinstance(schema, Mapping):
            raise SchemaError(f"{schema!r} is not a schema")
        schema = self._resolved(schema)
        if "const" in schema:
            return schema["const"]
        if "enum" in schema:
            return self._enum_member(schema["enum"])
        if "allOf" in schema:
            return self.build(self._merged(schema), depth)
        options = schema.get("anyOf") or schema.get("oneOf")
        if options is not None:
            return self.build(self._option(options, depth), depth)
        builders: dict[str, Callable[[Schema, int], Any]] = {
            "string": self._string,
            "integer": lambda s, _d: draw_integer(s, self.rng),
            "number": lambda s, _d: draw_number(s, self.rng),
            "boolean": lambda _s, _d: self.rng.random() < 0.5,
            "null": lambda _s, _d: None,
            "object": self._object,
            "array": self._array,
        }
        try:
            return builders[self._type(schema, depth)](schema, depth)
        except NoNumberFits as error:
            raise SchemaError(str(error)) from None

    def _resolved(self, schema: Schema) -> Schema:
        """Follow a local `$ref`; keywords beside it still apply."""
        ref = schema.get("$ref")
        if ref is None:
            return schema
        if not isinstance(ref, str) or not ref.startswith("#"):
            raise SchemaError(f"$ref {ref} is not inside the schema")
        target: Any = self.root
        for token in filter(None, ref[1:].split("/")):
            key = token.replace("~1", "/").replace("~0", "~")
            if not isinstance(target, Mapping) or key not in target:
                raise SchemaError(f"$ref {ref} does not resolve")
            target = target[key]
        if not isinstance(target, Mapping):
            raise SchemaError(f"$ref {ref} does not point at a schema")
        siblings = {key: value for key, value in schema.items() if key != "$ref"}
        return self._resolved({**target, **siblings})

    def _enum_member(self, members: object) -> Any:
        if not isinstance(members, list) or not members:
            raise SchemaError("enum must be a non-empty array")
        return self.rng.choice(members)

    def _merged(self, schema: Schema) -> Schema:
        """Fold `allOf` into one schema: properties merged, requirements joined."""
        merged: dict[str, Any] = {k: v for k, v in schema.items() if k != "allOf"}
        for part in schema["allOf"]:
            if not isinstance(part, Mapping):
                raise SchemaError("allOf must hold schemas")
            part = self._resolved(part)
            properties = {**merged.get("properties", {}), **part.get("properties", {})}
            required = [*merged.get("required", []), *part.get("required", [])]
            merged = {**merged, **part, "properties": properties, "required": required}
        return merged

    def _option(self, options: object, depth: int) -> object:
        """Pick the first option, or `null` once deep enough: a stable choice."""
        if not isinstance(options, list) or not options:
            raise SchemaError("anyOf and oneOf must be non-empty arrays")
        nulls = [
            o for o in options if isinstance(o, Mapping) and o.get("type") == "null"
        ]
        others = [o for o in options if o not in nulls]
        if depth >= _SOFT_DEPTH and nulls:
            return nulls[0]
        return (others or nulls)[0]

    def _type(self, schema: Schema, depth: int) -> str:
        """The type to draw: the declared one, else the one its keywords imply."""
        declared = schema.get("type")
        if isinstance(declared, list):
            if not declared:
                raise SchemaError("type must not be an empty array")
            non_null = [kind for kind in declared if kind != "null"]
            declared = non_null[0] if non_null and depth < _SOFT_DEPTH else declared[0]
        if declared is None:
            declared = self._implied_type(schema)
        if declared not in _TYPES:
            raise SchemaError(f"type {declared!r} is not a JSON schema type")
        return str(declared)

    @staticmethod
    def _implied_type(schema: Schema) -> str:
        if any(word in schema for word in _OBJECT_WORDS):
            return "object"
        if any(word in schema for word in _ARRAY_WORDS):
            return "array"
        if any(word in schema for word in _NUMBER_WORDS):
            return "number"
        return "string"

    def _string(self, schema: Schema, _depth: int) -> str:
        min_length = int(schema.get("minLength", 0))
        max_length = schema.get("maxLength")
        if max_length is not None and min_length > max_length:
            raise SchemaError("minLength is above maxLength")
        form = schema.get("format")
        text = _formatted(form, self.rng) if isinstance(form, str) else None
        if text is None:
            text = _words(self.rng, 2)
        while len(text) < min_length:
            text += " " + _words(self.rng, 1)
        return text if max_length is None else text[: int(max_length)]

    def _object(self, schema: Schema, depth: int) -> dict[str, Any]:
        properties = schema.get("properties") or {}
        required = list(schema.get("required") or [])
        names = [*properties] if depth < _SOFT_DEPTH else []
        names += [name for name in required if name not in names]
        extra = schema.get("additionalProperties")
        if not names and isinstance(extra, Mapping) and depth < _SOFT_DEPTH:
            count = max(int(schema.get("minProperties", 0)), 1)
            names = [f"{self.rng.choice(_WORDS)}_{n}" for n in range(1, count + 1)]
        value: dict[str, Any] = {}
        for name in names:
            member = properties.get(name, extra if isinstance(extra, Mapping) else {})
            value[name] = self.build(member, depth + 1)
        return value

    def _array(self, schema: Schema, depth: int) -> list[Any]:
        prefix = schema.get("prefixItems") or []
        items = schema.get("items", {})
        if isinstance(items, list):  # draft 4 tuples
            prefix, items = items, schema.get("additionalItems", {})
        low = int(schema.get("minItems", 0))
        high = int(schema.get("maxItems", max(low, len(prefix)) + 3))
        if low > high:
            raise SchemaError("minItems is above maxItems")
        count = low if depth >= _SOFT_DEPTH else self.rng.randint(max(low, 1), high)
        count = max(count, min(len(prefix), high))
        values = [self.build(part, depth + 1) for part in prefix[:count]]
        seen = {json.dumps(value, sort_keys=True) for value in values}
        for _attempt in range(count * 10):
            if len(values) >= count:
                break
            value = self.build(items, depth + 1)
            key = json.dumps(value, sort_keys=True)
            if schema.get("uniqueItems") and key in seen:
                continue
            seen.add(key)
            values.append(value)
        if len(values) < low:
            raise SchemaError("uniqueItems leaves fewer distinct items than minItems")
        return values
