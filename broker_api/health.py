"""Liveness and readiness: a broken dependency shows as a reason, not a trace."""

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from redis.asyncio import Redis
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

router = APIRouter(tags=["health"])


@router.get("/healthz")
async def healthz() -> dict[str, str]:
    """The process is alive."""
    return {"status": "ok"}


@router.get("/readyz")
async def readyz(request: Request) -> JSONResponse:
    """Postgres and Redis answer; 503 with the failing checks otherwise."""
    checks = {
        "postgres": await _check_postgres(request.app.state.engine),
        "redis": await _check_redis(request.app.state.redis),
    }
    ready = all(check["ok"] for check in checks.values())
    return JSONResponse(
        {"status": "ready" if ready else "not_ready", "checks": checks},
        status_code=200 if ready else 503,
    )


async def _check_postgres(engine: AsyncEngine) -> dict[str, Any]:
    try:
        async with engine.connect() as connection:
            await connection.execute(text("SELECT 1"))
    except Exception as exc:
        return {"ok": False, "reason": f"postgres unreachable: {type(exc).__name__}"}
    return {"ok": True}


async def _check_redis(redis: "Redis") -> dict[str, Any]:
    try:
        await redis.ping()
    except Exception as exc:
        return {"ok": False, "reason": f"redis unreachable: {type(exc).__name__}"}
    return {"ok": True}
