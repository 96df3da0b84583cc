"""Task messages compared with what Celery's own send_task writes: the fields that
differ between any two messages are left out."""

from collections.abc import Iterable

# Ids, tags and the sending host, set anew for every message.
VARYING = frozenset(
    {
        "origin",
        "delivery_tag",
        "reply_to",
        "ignore_result",
        "stamped_headers",
        "replaced_task_nesting",
        "stamps",
    }
)


def message_shape(message: dict, *, also_varying: Iterable[str] = ()) -> dict:
    """`message` without its varying headers and properties (and `also_varying`)."""
    left_out = VARYING | set(also_varying)
    headers = {k: v for k, v in message["headers"].items() if k not in left_out}
    properties = {k: v for k, v in message["properties"].items() if k not in left_out}
    return {**message, "headers": headers, "properties": properties}
