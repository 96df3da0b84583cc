"""The providers' prompt caches: how much of a prompt was seen before.

A model whose catalog entry lists an `input_cache_read` price caches prompts
implicitly: the longest run of leading messages it already saw, for that model,
is read from the cache and billed at the cache price.
"""

import hashlib
import json
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from typing import Any

from shared.routing.features import estimate_prompt_tokens


def _prefix_digests(
    model_id: str, messages: Sequence[Mapping[str, Any]]
) -> list[bytes]:
    """One digest per leading run of messages: [:1], [:2], ... [:n]."""
    running = hashlib.sha256(model_id.encode())
    digests = []
    for message in messages:
        running.update(json.dumps(message, sort_keys=True).encode())
        digests.append(running.copy().digest())
    return digests


class PromptCache:
    """Prefixes seen per model, the least recently used dropped past capacity."""

    def __init__(self, capacity: int = 100_000) -> None:
        self._seen: OrderedDict[bytes, None] = OrderedDict()
        self._capacity = capacity

    def read(self, model_id: str, messages: Sequence[Mapping[str, Any]]) -> int:
        """Return the prompt tokens found in the cache, then remember this prompt."""
        digests = _prefix_digests(model_id, messages)
        cached_messages = 0
        for count, digest in enumerate(digests, start=1):
            if digest in self._seen:
                cached_messages = count
                self._seen.move_to_end(digest)
        for digest in digests:
            self._seen[digest] = None
        while len(self._seen) > self._capacity:
            self._seen.popitem(last=False)
        if not cached_messages:
            return 0
        return estimate_prompt_tokens(list(messages[:cached_messages]))
