"""HTTP for the dashboard: a static page and its assets (public) and the data
they draw (the admin token or a tenant key).

Browsers cannot send a Bearer header when loading a page, so the page itself holds
no data: its script asks for a token and sends it on every `fetch`.
"""

from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import FileResponse
from redis.asyncio import Redis

from broker_api.dashboard import service
from broker_api.dashboard.access import ViewerDep
from broker_api.dashboard.views import DashboardData, Window
from broker_api.deps import SessionDep
from shared.errors import NotFound

router = APIRouter(prefix="/dashboard", tags=["dashboard"])

STATIC = Path(__file__).parent / "static"
ASSETS = {
    "charts.js": "text/javascript",
    "dashboard.js": "text/javascript",
    "dashboard.css": "text/css",
}
# Everything comes from this server: no CDN, no inline script, nothing framed.
PAGE_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; "
    "frame-ancestors 'none'; base-uri 'none'; form-action 'none'",
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
    "Cache-Control": "no-cache",
}


@router.get("", include_in_schema=False)
async def page() -> FileResponse:
    """The page; it asks for a token and keeps it in sessionStorage."""
    return FileResponse(STATIC / "index.html", headers=PAGE_HEADERS)


@router.get("/assets/{name}", include_in_schema=False)
async def asset(name: str) -> FileResponse:
    media_type = ASSETS.get(name)
    if media_type is None:  # a fixed list: no path ever reaches the disk unchecked
        raise NotFound(f"no dashboard asset {name!r}")
    return FileResponse(STATIC / name, media_type=media_type, headers=PAGE_HEADERS)


@router.get("/data")
async def data(
    request: Request,
    session: SessionDep,
    viewer: ViewerDep,
    window: Annotated[Window, Query(description="how far back the charts go")] = "1h",
) -> DashboardData:
    """Queue depths, throughput, latency and cost per model, recent failures.

    The admin token sees every tenant; a tenant key sees its own tenant only.
    """
    redis: Redis = request.app.state.redis
    return await service.dashboard_data(
        session, redis, viewer, window=window, now=datetime.now(UTC)
    )
