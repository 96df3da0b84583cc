"""`helixq usage`: the tenant's cost, tokens and requests (`GET /v1/usage`), a table."""

import argparse
import json
import math
from datetime import UTC, date, datetime, timedelta
from typing import Any

from helixq.cli_admin import duration_up_to_days
from helixq.cli_client import client_options, connect
from helixq.cli_services import SubParsers
from helixq.console import format_table
from shared.durations import DAY_S

# The API's longest usage report.
MAX_WINDOW_DAYS = 366
METRICS = (
    ("REQUESTS", "requests"),
    ("SUCCEEDED", "succeeded"),
    ("PROMPT TOKENS", "prompt_tokens"),
    ("COMPLETION TOKENS", "completion_tokens"),
    ("COST USD", "cost_usd"),
)


def add_usage_command(commands: SubParsers) -> None:
    usage = commands.add_parser(
        "usage",
        parents=[client_options()],
        help="your tenant's cost, tokens and requests, grouped, as a table",
    )
    period = usage.add_mutually_exclusive_group()
    period.add_argument(
        "--window",
        type=duration_up_to_days(MAX_WINDOW_DAYS),
        metavar="DURATION",
        help="the last days up to today: 7d, 30d (default: the API's, 30 days)",
    )
    period.add_argument("--from", dest="start", type=day, metavar="YYYY-MM-DD")
    usage.add_argument("--to", dest="end", type=day, metavar="YYYY-MM-DD")
    usage.add_argument(
        "--group-by",
        default="model",
        metavar="FIELDS",
        help="comma-separated: model, provider, day, strategy (default: model)",
    )
    usage.add_argument("--json", action="store_true", help="the API's answer as is")
    usage.set_defaults(handler=usage_command)


def day(text: str) -> date:
    """An argparse type: an ISO day, `2026-11-24`."""
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected YYYY-MM-DD, got {text!r}") from None


def usage_params(args: argparse.Namespace, *, today: date) -> dict[str, str]:
    params = {"group_by": args.group_by}
    start = args.start
    if args.window is not None:
        start = today - timedelta(days=math.ceil(args.window / DAY_S) - 1)
    if start is not None:
        params["from"] = start.isoformat()
    if args.end is not None:
        params["to"] = args.end.isoformat()
    return params


def usage_command(args: argparse.Namespace) -> int:
    params = usage_params(args, today=datetime.now(UTC).date())
    with connect(args) as api:
        report = api.get("/v1/usage", params=params)
    if args.json:
        print(json.dumps(report, indent=2))
        return 0
    print(f"usage from {report['start']} to {report['end']} (UTC days, included)")
    print(usage_table(report))
    return 0


def usage_table(report: dict[str, Any]) -> str:
    """A row per group, then the totals."""
    dimensions = list(report.get("group_by") or [])
    headers = [name.upper() for name in dimensions] + [h for h, _ in METRICS]
    rows = [
        [_cell(row.get(name)) for name in dimensions]
        + [_cell(row.get(key)) for _, key in METRICS]
        for row in report.get("data", [])
    ]
    totals = report["totals"]
    label = ["TOTAL", *([""] * (len(dimensions) - 1))] if dimensions else []
    rows.append(label + [_cell(totals.get(key)) for _, key in METRICS])
    return format_table(headers, rows)


def _cell(value: Any) -> str:
    return "-" if value is None else str(value)
