"""POST /api/v1/embeddings: OpenAI's embeddings shape, as OpenRouter serves it, and
GET /api/v1/embeddings/models, where OpenRouter lists its embedding models apart
from /models.

Vectors are deterministic: the same model and text always give the same unit
vector, so tests can compare them. `usage` carries the prompt tokens and the exact
cost, charged to the ledger like a completion. Errors come in OpenRouter's order
and envelope: a bad key 401, bad parameters 400, an unknown model 404, credits 402;
a model named `sim/<status>` (such as `sim/500` or `sim/429`) answers that status,
as chat completions' scripted models do.
"""

import hashlib
import json
import math
import random
import struct
import time
from base64 import b64encode
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from aiohttp import web

from simulator.auth import authenticate
from simulator.billing import available_credits, json_number
from simulator.calls import Call, received_ts
from simulator.errors import SimError, json_response
from simulator.ledger import Usage
from simulator.state import STATE, SimulatorState

CHARS_PER_TOKEN = 4
MAX_INPUTS = 2048
MAX_INPUT_TOKENS = 8192
JOB_ID_HEADER = "X-Helixq-Job-Id"


@dataclass(frozen=True, slots=True)
class EmbeddingModel:
    id: str
    provider: str
    prompt_price: Decimal  # USD per input token
    dimensions: int
    shortens: bool  # takes `dimensions` below its own


EMBEDDING_MODELS = {
    model.id: model
    for model in (
        EmbeddingModel(
            "openai/text-embedding-3-small", "OpenAI", Decimal("2e-8"), 1536, True
        ),
        EmbeddingModel(
            "openai/text-embedding-3-large", "OpenAI", Decimal("1.3e-7"), 3072, True
        ),
        EmbeddingModel(
            "mistralai/mistral-embed-2312", "Mistral", Decimal("1e-7"), 1024, False
        ),
    )
}


_LISTED_AT = 1767225600  # a fixed date keeps the listing stable


def _listing(model: EmbeddingModel) -> dict[str, Any]:
    return {
        "id": model.id,
        "canonical_slug": model.id,
        "name": f"{model.provider}: {model.id.split('/', 1)[1]}",
        "created": _LISTED_AT,
        "description": "",
        "context_length": MAX_INPUT_TOKENS,
        "architecture": {
            "modality": "text->embeddings",
            "input_modalities": ["text"],
            "output_modalities": ["embeddings"],
            "tokenizer": "Other",
            "instruct_type": None,
        },
        "pricing": {"prompt": format(model.prompt_price, "f"), "completion": "0"},
        "top_provider": {
            "context_length": MAX_INPUT_TOKENS,
            "max_completion_tokens": None,
            "is_moderated": False,
        },
        "per_request_limits": None,
        "supported_parameters": ["dimensions", "encoding_format", "user"],
    }


LISTING_BODY = json.dumps(
    {"data": [_listing(model) for model in EMBEDDING_MODELS.values()]}
).encode()


async def list_embedding_models(_request: web.Request) -> web.Response:
    """GET /embeddings/models: the embedding models; no auth needed, as /models."""
    return web.Response(body=LISTING_BODY, content_type="application/json")


@dataclass(frozen=True, slots=True)
class EmbeddingRequest:
    model: EmbeddingModel
    texts: list[str]
    dimensions: int
    is_base64: bool


def _texts(raw: object) -> list[str]:
    texts = [raw] if isinstance(raw, str) else raw
    if (
        not isinstance(texts, list)
        or not texts
        or not all(isinstance(text, str) and text for text in texts)
    ):
        raise SimError(400, "input must be a non-empty string or array of strings")
    if len(texts) > MAX_INPUTS:
        raise SimError(400, f"input may hold at most {MAX_INPUTS} strings")
    for index, text in enumerate(texts):
        if _tokens(text) > MAX_INPUT_TOKENS:
            raise SimError(
                400,
                f"input[{index}] is longer than the model's {MAX_INPUT_TOKENS} tokens",
            )
    return texts


def _dimensions(model: EmbeddingModel, raw: object) -> int:
    if raw is None:
        return model.dimensions
    if isinstance(raw, bool) or not isinstance(raw, int) or raw < 1:
        raise SimError(400, "dimensions must be a positive integer")
    if raw > model.dimensions or (raw != model.dimensions and not model.shortens):
        raise SimError(400, f"{model.id} does not take dimensions={raw}")
    return raw


def parse_embedding_request(body: Any) -> EmbeddingRequest:
    """Validate in OpenRouter's order: the body, the model, then the inputs."""
    if not isinstance(body, dict):
        raise SimError(400, "the body must be a JSON object")
    model_id = body.get("model")
    if not isinstance(model_id, str) or not model_id:
        raise SimError(400, "model is required")
    if model_id.startswith("sim/") and model_id[4:].isdigit():
        status = int(model_id[4:])
        raise SimError(status, f"scripted failure: {model_id}")
    model = EMBEDDING_MODELS.get(model_id)
    if model is None:
        raise SimError(404, f"{model_id} is not an embedding model")
    encoding = body.get("encoding_format", "float")
    if encoding not in ("float", "base64"):
        raise SimError(400, "encoding_format must be float or base64")
    return EmbeddingRequest(
        model,
        _texts(body.get("input")),
        _dimensions(model, body.get("dimensions")),
        is_base64=encoding == "base64",
    )


def _tokens(text: str) -> int:
    return max(1, math.ceil(len(text) / CHARS_PER_TOKEN))


def embed(model_id: str, text: str, dimensions: int) -> list[float]:
    """A unit vector seeded by the model and the text: the same input, the same
    vector."""
    seed = hashlib.sha256(f"{model_id}\n{text}".encode()).digest()
    rng = random.Random(seed)
    vector = [rng.gauss(0.0, 1.0) for _ in range(dimensions)]
    norm = math.sqrt(sum(value * value for value in vector)) or 1.0
    return [value / norm for value in vector]


def _encoded(vector: list[float], *, is_base64: bool) -> list[float] | str:
    if not is_base64:
        return vector
    return b64encode(struct.pack(f"<{len(vector)}f", *vector)).decode()


def _charge(
    state: SimulatorState, request: EmbeddingRequest, key: str
) -> tuple[int, Decimal]:
    tokens = sum(_tokens(text) for text in request.texts)
    cost = tokens * request.model.prompt_price
    available, source = available_credits(
        state.settings, state.ledger.total, added=state.ledger.credits_added
    )
    if cost > available:
        raise SimError(
            402,
            "Insufficient credits. Add more using https://openrouter.ai/credits",
            metadata={"limit_source": source},
        )
    state.ledger.charge(
        cost,
        datetime.now(UTC).date(),
        model=request.model.id,
        key=key,
        usage=Usage(prompt_tokens=tokens),
    )
    return tokens, cost


def _log(
    state: SimulatorState, request: web.Request, status: int, model: object
) -> None:
    """Every embeddings call is in the call log, with its status."""
    known = EMBEDDING_MODELS.get(model) if isinstance(model, str) else None
    state.calls.record(
        Call(
            ts=time.time(),
            received_ts=received_ts(request),
            model=model if isinstance(model, str) else None,
            provider=None if known is None else known.provider,
            status=status,
            job_id=request.headers.get(JOB_ID_HEADER),
            generation_id=None,
            app=request.headers.get("X-OpenRouter-Title"),
        )
    )


async def create_embeddings(request: web.Request) -> web.Response:
    """Answer an embeddings request with a vector per input, in input order."""
    state = request.app[STATE]
    key = authenticate(request, state.settings)
    model_id: object = None
    try:
        try:
            body = await request.json()
        except ValueError:
            raise SimError(400, "the body is not valid JSON") from None
        model_id = body.get("model") if isinstance(body, dict) else None
        parsed = parse_embedding_request(body)
        tokens, cost = _charge(state, parsed, key)
    except SimError as error:
        _log(state, request, error.status, model_id)
        raise
    _log(state, request, 200, parsed.model.id)
    data = [
        {
            "object": "embedding",
            "index": index,
            "embedding": _encoded(
                embed(parsed.model.id, text, parsed.dimensions),
                is_base64=parsed.is_base64,
            ),
        }
        for index, text in enumerate(parsed.texts)
    ]
    generation_id = f"gen-emb-{state.ids.getrandbits(64):016x}"
    return json_response(
        {
            "id": generation_id,
            "object": "list",
            "data": data,
            "model": parsed.model.id,
            "provider": parsed.model.provider,
            "usage": {
                "prompt_tokens": tokens,
                "total_tokens": tokens,
                "cost": json_number(cost),
            },
        },
        headers={"X-Generation-Id": generation_id},
    )
