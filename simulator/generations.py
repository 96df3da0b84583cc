"""Served generations, kept for GET /generation, and the ids they are issued."""

import base64
import random
from collections import OrderedDict
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from simulator.billing import json_number

# base64's two symbols become letters: ids stay alphanumeric. One draw of random
# bytes, not 20 of characters: an id is issued on every call the simulator answers.
_ALNUM_ALTCHARS = b"Zz"


def new_generation_id(rng: random.Random, now_s: float) -> str:
    """Issue an id shaped like every real capture: `gen-<unix>-<20 alnum>`."""
    suffix = base64.b64encode(rng.randbytes(15), altchars=_ALNUM_ALTCHARS).decode()
    return f"gen-{int(now_s)}-{suffix}"


def upstream_id(generation_id: str, attempt_index: int) -> str:
    """Name a provider-side call after its generation: cheap and unique."""
    return f"sim-{generation_id.rsplit('-', 1)[-1]}-{attempt_index}"


@dataclass(frozen=True, slots=True)
class ProviderAttempt:
    """One provider call made for a generation, fallbacks included."""

    id: str
    model_permaslug: str
    provider_name: str
    status: int
    latency_ms: int


@dataclass(frozen=True, slots=True)
class Generation:
    """What GET /generation reports about one served completion."""

    id: str
    model: str
    provider_name: str
    created_at: datetime
    latency_ms: int
    tokens_prompt: int
    tokens_completion: int
    cost_usd: Decimal
    finish_reason: str
    native_finish_reason: str
    is_streamed: bool
    is_cancelled: bool
    attempts: tuple[ProviderAttempt, ...]
    router: str | None = None
    tokens_reasoning: int = 0
    tokens_cached: int = 0
    external_user: str | None = None
    http_referer: str | None = None
    user_agent: str | None = None

    def as_json(self) -> dict[str, Any]:
        """Render the `data` object of GET /generation."""
        cost = json_number(self.cost_usd)
        return {
            "id": self.id,
            "upstream_id": self.attempts[-1].id,
            "total_cost": cost,
            "usage": cost,
            "upstream_inference_cost": cost,
            "cache_discount": None,
            "created_at": self.created_at.isoformat(),
            "model": self.model,
            "provider_name": self.provider_name,
            "latency": self.latency_ms,
            "generation_time": self.attempts[-1].latency_ms,
            "moderation_latency": None,
            **self._token_counts(),
            "finish_reason": self.finish_reason,
            "native_finish_reason": self.native_finish_reason,
            "cancelled": self.is_cancelled,
            "streamed": self.is_streamed,
            "is_byok": False,
            "origin": self.http_referer or "",
            "app_id": None,
            "http_referer": self.http_referer,
            "user_agent": self.user_agent,
            "external_user": self.external_user,
            "router": self.router,
            "api_type": "completions",
            "provider_responses": [self._attempt_json(a) for a in self.attempts],
        }

    def _token_counts(self) -> dict[str, Any]:
        """Token and media counts; the simulator's counts are the native ones."""
        return {
            "tokens_prompt": self.tokens_prompt,
            "tokens_completion": self.tokens_completion,
            "native_tokens_prompt": self.tokens_prompt,
            "native_tokens_completion": self.tokens_completion,
            "native_tokens_reasoning": self.tokens_reasoning,
            "native_tokens_cached": self.tokens_cached,
            "native_tokens_completion_images": 0,
            "num_media_prompt": None,
            "num_media_completion": None,
            "num_input_audio_prompt": None,
            "num_search_results": None,
        }

    @staticmethod
    def _attempt_json(attempt: ProviderAttempt) -> dict[str, Any]:
        return {
            "id": attempt.id,
            "endpoint_id": f"{attempt.model_permaslug}@{attempt.provider_name}",
            "model_permaslug": attempt.model_permaslug,
            "provider_name": attempt.provider_name,
            "status": attempt.status,
            "latency": attempt.latency_ms,
            "is_byok": False,
        }


class GenerationStore:
    """The latest generations by id; the oldest are dropped past capacity."""

    def __init__(self, capacity: int = 100_000, *, visible_after_s: float = 0) -> None:
        self._items: OrderedDict[str, tuple[Generation, float]] = OrderedDict()
        self._capacity = capacity
        self._visible_after_s = visible_after_s

    def add(self, generation: Generation, stored_at_s: float) -> None:
        """Keep a generation; `stored_at_s` is a monotonic time."""
        self._items[generation.id] = (generation, stored_at_s)
        if len(self._items) > self._capacity:
            self._items.popitem(last=False)

    def get(self, generation_id: str, now_s: float) -> Generation | None:
        """Find a generation, hiding it during the configured visibility delay."""
        item = self._items.get(generation_id)
        if item is None or now_s - item[1] < self._visible_after_s:
            return None
        return item[0]
