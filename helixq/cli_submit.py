"""`helixq submit FILE.jsonl [--wait]`: a prompts file as one batch, watched to its end.

With --wait: a progress bar on stderr, then a summary table on stdout. Without it:
the batch id alone on stdout, so that `BATCH=$(helixq submit prompts.jsonl)` works.
"""

import argparse
import json
import sys
import time
from typing import Any

from helixq import console, prompts
from helixq.api_client import ApiClient
from helixq.batch_summary import HEADERS, summarize, summary_row
from helixq.cli_client import client_options, connect
from helixq.cli_services import SubParsers
from helixq.errors import RequestsFailed
from helixq.progress import Progress

TERMINAL = frozenset({"completed", "failed", "cancelled", "expired"})
JSONL = {"Content-Type": "application/jsonl"}


def add_submit_command(commands: SubParsers) -> None:
    submit = commands.add_parser(
        "submit",
        parents=[client_options()],
        help="submit a JSONL file of prompts as a batch",
        description=f"{__doc__}\n{prompts.__doc__}",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    submit.add_argument("file", metavar="FILE.jsonl", help="the requests; - for stdin")
    submit.add_argument("--wait", action="store_true", help="watch it to the end")
    submit.add_argument(
        "--fail-on-error",
        action="store_true",
        help="with --wait: exit 1 unless every request succeeded",
    )
    submit.add_argument(
        "--completion-window",
        default="24h",
        metavar="DURATION",
        help="how long the batch may take before its unfinished items expire: "
        "1h, 24h (default: 24h)",
    )
    submit.add_argument(
        "--lane",
        choices=("auto", "discount", "realtime"),
        default="auto",
        help="discount: OpenRouter's Batch API, about half price, within 24h; "
        "realtime: at once, at list price; auto (default): discount where a line "
        "can go there",
    )
    submit.add_argument("--model", help="the model of lines that name none")
    submit.add_argument(
        "--poll-interval", type=float, default=1.0, metavar="SECONDS", help="default 1"
    )
    submit.set_defaults(handler=submit_command)


def submit_command(args: argparse.Namespace) -> int:
    body = b"".join(prompts.read_batch_lines(args.file, model=args.model))
    with connect(args) as api:
        batch = api.post(
            "/v1/batches",
            content=body,
            params={"completion_window": args.completion_window, "lane": args.lane},
            headers=JSONL,
        )
        if not args.wait:
            print(batch["id"])
            return 0
        total = batch["request_counts"]["total"]
        console.shout(
            f"batch {batch['id']}: {total} requests queued "
            f"(Ctrl-C stops waiting, not the batch)"
        )
        progress = Progress(sys.stderr, is_tty=sys.stderr.isatty())
        batch = wait_for_batch(api, batch, progress, poll_s=args.poll_interval)
        summary = summarize(json.loads(line) for line in api.lines(results_path(batch)))
    print(console.format_table(HEADERS, [summary_row(summary)]))
    if batch["status"] != "completed":
        console.shout(f"batch {batch['id']} ended {batch['status']}")
    if args.fail_on_error and not summary.is_all_succeeded:
        unsuccessful = summary.failed + summary.expired + summary.cancelled
        raise RequestsFailed(f"{unsuccessful} of {total} requests did not succeed")
    return 0


def wait_for_batch(
    api: ApiClient, batch: dict[str, Any], progress: Progress, *, poll_s: float
) -> dict[str, Any]:
    """Poll until the batch is terminal, drawing its counts each time."""
    try:
        while True:
            counts = batch["request_counts"]
            progress.update(
                counts["total"] - counts["pending"],
                counts["total"],
                failed=counts["failed"] + counts["expired"],
                status=batch["status"],
            )
            if batch["status"] in TERMINAL:
                return batch
            time.sleep(poll_s)
            batch = api.get(f"/v1/batches/{batch['id']}")
    finally:
        progress.finish()


def results_path(batch: dict[str, Any]) -> str:
    return f"/v1/batches/{batch['id']}/results"
