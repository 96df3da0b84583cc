"""`helixq jobs show` and `helixq batches show|results|cancel`, over the HTTP API."""

import argparse
import json
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from helixq.cli_client import client_options, connect, format_fields
from helixq.cli_services import SubParsers

OUTPUT_PREVIEW_CHARS = 200
ENDED_STATES = ("completed", "failed", "cancelled", "expired")


def add_job_commands(commands: SubParsers) -> None:
    jobs = commands.add_parser("jobs", help="look at one job")
    actions = jobs.add_subparsers(dest="action", required=True)
    show = actions.add_parser(
        "show", parents=[_id_options()], help="status, model, cost, latency, output"
    )
    show.set_defaults(handler=show_job_command)


def add_batch_commands(commands: SubParsers) -> None:
    batches = commands.add_parser("batches", help="look at, read or cancel a batch")
    actions = batches.add_subparsers(dest="action", required=True)
    actions.add_parser(
        "show", parents=[_id_options()], help="status and per-status counts"
    ).set_defaults(handler=show_batch_command)
    results = actions.add_parser(
        "results",
        parents=[client_options()],
        help="the result lines as JSONL on stdout (custom_id, status, response, ...)",
    )
    results.add_argument("id", metavar="ID")
    results.set_defaults(handler=batch_results_command)
    cancel = actions.add_parser(
        "cancel",
        parents=[client_options()],
        help="cancel queued items; running ones finish",
    )
    cancel.add_argument("id", metavar="ID")
    cancel.set_defaults(handler=cancel_batch_command)


def _id_options() -> argparse.ArgumentParser:
    parent = argparse.ArgumentParser(add_help=False, parents=[client_options()])
    parent.add_argument("id", metavar="ID")
    parent.add_argument("--json", action="store_true", help="the API's answer as is")
    return parent


def show_job_command(args: argparse.Namespace) -> int:
    with connect(args) as api:
        job = api.get(f"/v1/jobs/{args.id}")
    _show(job, job_fields, as_json=args.json)
    return 0


def _show(
    view: dict[str, Any],
    fields: Callable[[dict[str, Any]], list[tuple[str, str]]],
    *,
    as_json: bool,
) -> None:
    print(json.dumps(view, indent=2) if as_json else format_fields(fields(view)))


def job_fields(job: dict[str, Any]) -> list[tuple[str, str]]:
    usage = job.get("usage") or {}
    error = job.get("error")
    fields = [
        ("id", job["id"]),
        ("status", job["status"]),
        ("custom_id", job.get("custom_id") or "-"),
        ("model", _provided(job.get("model"), job.get("provider"))),
        ("tokens", _tokens(usage)),
        ("cost_usd", job.get("cost_usd") or "-"),
        ("latency", _ms(job.get("latency_ms"))),
        ("attempts", f"{len(job.get('attempts') or [])} ({job['retries']} retries)"),
        ("created_at", job["created_at"]),
        ("finished_at", job.get("finished_at") or "-"),
    ]
    if error:
        fields.append(("error", f"{error['code']}: {error['message']}"))
    output = _output(job.get("result"))
    if output is not None:
        fields.append(("output", output))
    return fields


def _provided(model: str | None, provider: str | None) -> str:
    if not model:
        return "-"
    return f"{model} ({provider})" if provider else model


def _tokens(usage: dict[str, Any]) -> str:
    if not usage:
        return "-"
    return f"{usage['prompt_tokens']} prompt + {usage['completion_tokens']} completion"


def _ms(value: int | None) -> str:
    return "-" if value is None else f"{value} ms"


def _output(result: dict[str, Any] | None) -> str | None:
    """The first choice's text, shortened to one line."""
    try:
        content = result["choices"][0]["message"]["content"]  # type: ignore[index]
    except (TypeError, KeyError, IndexError):
        return None
    text = " ".join(str(content).split())
    if len(text) > OUTPUT_PREVIEW_CHARS:
        return text[: OUTPUT_PREVIEW_CHARS - 1] + "…"
    return text


def show_batch_command(args: argparse.Namespace) -> int:
    with connect(args) as api:
        batch = api.get(f"/v1/batches/{args.id}")
    _show(batch, batch_fields, as_json=args.json)
    return 0


def shown_time(moment: object) -> str:
    """A batch's times come in unix seconds (OpenAI's shape); people read ISO UTC."""
    if isinstance(moment, int) and not isinstance(moment, bool):
        return datetime.fromtimestamp(moment, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return "-" if moment is None else str(moment)


def batch_fields(batch: dict[str, Any]) -> list[tuple[str, str]]:
    counts = batch["request_counts"]
    tally = ", ".join(
        f"{counts[name]} {name}"
        for name in ("succeeded", "failed", "expired", "cancelled", "pending")
        if counts.get(name)
    )
    ends = (batch.get(f"{state}_at") for state in ENDED_STATES)
    ended = next((moment for moment in ends if moment), None)
    return [
        ("id", batch["id"]),
        ("status", batch["status"]),
        ("requests", f"{counts['total']}" + (f" ({tally})" if tally else "")),
        ("created_at", shown_time(batch["created_at"])),
        ("expires_at", shown_time(batch["expires_at"])),
        ("ended_at", shown_time(ended)),
    ]


def batch_results_command(args: argparse.Namespace) -> int:
    with connect(args) as api:
        for line in api.lines(f"/v1/batches/{args.id}/results"):
            print(line, flush=False)
    return 0


def cancel_batch_command(args: argparse.Namespace) -> int:
    with connect(args) as api:
        batch = api.post(f"/v1/batches/{args.id}/cancel")
    pending = batch["request_counts"]["pending"]
    print(f"batch {batch['id']}: {batch['status']} ({pending} still running)")
    return 0
