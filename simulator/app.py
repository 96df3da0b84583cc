"""create_app: the simulated OpenRouter as an aiohttp application."""

import time
from collections.abc import Awaitable, Callable

from aiohttp import web

from simulator.account import get_activity, get_credits, get_generation, get_key
from simulator.batches.api import add_batch_api
from simulator.calls import RECEIVED_AT
from simulator.catalog import Catalog
from simulator.completions import create_completion
from simulator.control import get_calls, get_health, queue_script, reset
from simulator.embeddings import create_embeddings, list_embedding_models
from simulator.errors import SimError, error_response
from simulator.key_routes import add_key_routes
from simulator.model_pages import list_endpoints, list_models
from simulator.settings import SimulatorSettings
from simulator.state import STATE, SimulatorState

_MAX_BODY_BYTES = 32 * 1024 * 1024  # long prompts are the point of some tests
_Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@web.middleware
async def stamp_arrival(request: web.Request, handler: _Handler) -> web.StreamResponse:
    """Note when each request arrived, before its body is read or it is served."""
    request[RECEIVED_AT] = time.time()
    return await handler(request)


@web.middleware
async def answer_errors(request: web.Request, handler: _Handler) -> web.StreamResponse:
    """Render SimError, and unknown routes, in OpenRouter's JSON envelope."""
    try:
        return await handler(request)
    except SimError as error:
        return error_response(error)
    except (web.HTTPNotFound, web.HTTPMethodNotAllowed) as error:
        return error_response(
            SimError(error.status, error.reason, is_authenticated=False)
        )


def _check_models(settings: SimulatorSettings, catalog: Catalog) -> None:
    """Fail at start-up, not on the first request, if a configured model is unknown."""
    for model_id in (settings.default_model, settings.auto_router_model):
        if catalog.find(model_id) is None:
            raise ValueError(f"{model_id} is not in the simulator's catalog")


def create_app(settings: SimulatorSettings | None = None) -> web.Application:
    """Build the app; settings come from `HELIXQ_SIM_*` when none are given."""
    settings = settings or SimulatorSettings()
    catalog = Catalog.load()
    _check_models(settings, catalog)
    app = web.Application(
        middlewares=[stamp_arrival, answer_errors], client_max_size=_MAX_BODY_BYTES
    )
    app[STATE] = SimulatorState(settings, catalog)
    app.add_routes(
        [
            web.post("/api/v1/chat/completions", create_completion),
            web.post("/api/v1/embeddings", create_embeddings),
            web.get("/api/v1/embeddings/models", list_embedding_models),
            web.get("/api/v1/models", list_models),
            web.get("/api/v1/models/{author}/{slug}/endpoints", list_endpoints),
            web.get("/api/v1/generation", get_generation),
            web.get("/api/v1/key", get_key),
            web.get("/api/v1/auth/key", get_key),
            web.get("/api/v1/credits", get_credits),
            web.get("/api/v1/activity", get_activity),
            web.get("/_sim/health", get_health),
            web.get("/_sim/calls", get_calls),
            web.post("/_sim/reset", reset),
            web.post("/_sim/script", queue_script),
        ]
    )
    add_batch_api(app)
    add_key_routes(app)
    return app
