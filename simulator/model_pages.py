"""Public model endpoints: GET /models and GET /models/{author}/{slug}/endpoints."""

from typing import Any

from aiohttp import web

from simulator.auth import authenticate
from simulator.catalog import ModelEntry
from simulator.errors import SimError, json_response
from simulator.routing import configured_latency_ms
from simulator.state import STATE, SimulatorState

_THROUGHPUT_TOKENS_PER_S = 100


async def list_models(request: web.Request) -> web.Response:
    """GET /models: the snapshot plus the `sim/*` models; no auth needed."""
    body = request.app[STATE].catalog.listing_body
    return web.Response(body=body, content_type="application/json")


def _is_signed_in(request: web.Request, state: SimulatorState) -> bool:
    try:
        authenticate(request, state.settings)
    except SimError:
        return False
    return True


def _latency_percentiles(model: ModelEntry, state: SimulatorState) -> dict[str, int]:
    """Report the configured latency, so routers that read it can rank models."""
    base_ms = configured_latency_ms(model, state.settings)
    worst_ms = base_ms + state.settings.latency_jitter_ms
    return {"p50": base_ms, "p75": worst_ms, "p90": worst_ms, "p99": worst_ms}


def _endpoint_json(model: ModelEntry, state: SimulatorState, *, signed_in: bool) -> Any:
    """The one endpoint serving a model."""
    listing = model.listing
    provider = model.provider
    return {
        "name": f"{provider.name} | {model.canonical_slug}",
        "model_id": model.canonical_slug,
        "model_name": model.name,
        "context_length": model.context_length,
        "pricing": listing["pricing"],
        "provider_name": provider.name,
        "tag": provider.slug,
        "quantization": None,
        "max_completion_tokens": model.max_completion_tokens,
        "max_prompt_tokens": None,
        "supported_parameters": listing["supported_parameters"],
        "status": 0,
        "uptime_last_5m": 100,
        "uptime_last_30m": 100,
        "uptime_last_1d": 100,
        "supports_implicit_caching": False,
        "latency_last_30m": _latency_percentiles(model, state) if signed_in else None,
        "throughput_last_30m": (
            dict.fromkeys(("p50", "p75", "p90", "p99"), _THROUGHPUT_TOKENS_PER_S)
            if signed_in
            else None
        ),
    }


async def list_endpoints(request: web.Request) -> web.Response:
    """GET /models/{author}/{slug}/endpoints; 404 for an unknown model."""
    state = request.app[STATE]
    model_id = f"{request.match_info['author']}/{request.match_info['slug']}"
    model = state.catalog.find(model_id)
    if model is None:
        raise SimError(
            404, f"No endpoints found for {model_id}", is_authenticated=False
        )
    listing = model.listing
    data = {
        "id": model.id,
        "name": model.name,
        "created": listing["created"],
        "description": listing["description"],
        "architecture": listing["architecture"],
        "endpoints": [
            _endpoint_json(model, state, signed_in=_is_signed_in(request, state))
        ],
    }
    return json_response({"data": data})
