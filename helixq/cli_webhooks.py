"""`helixq webhooks secret|rotate`: a tenant's webhook signing secret."""

import argparse
from datetime import UTC, datetime, timedelta

from helixq.cli_admin import database_session, duration_up_to_days
from helixq.cli_services import SubParsers
from shared.durations import parse_duration_s
from shared.tenancy import find_tenant
from shared.webhooks.secrets import current_secret, rotate_secret

DEFAULT_OVERLAP = "24h"


def add_webhook_commands(commands: SubParsers) -> None:
    webhooks = commands.add_parser("webhooks", help="webhook signing secrets")
    actions = webhooks.add_subparsers(dest="action", required=True)
    secret = actions.add_parser(
        "secret",
        help="print the tenant's signing secret (whsec_...) alone on stdout, "
        "creating it if none",
    )
    secret.add_argument("--tenant", required=True, metavar="SLUG")
    secret.set_defaults(handler=secret_command)
    rotate = actions.add_parser(
        "rotate",
        help="make a new signing secret and print it; the old one keeps signing "
        "(beside the new one) for the overlap",
    )
    rotate.add_argument("--tenant", required=True, metavar="SLUG")
    rotate.add_argument(
        "--overlap",
        type=duration_up_to_days(MAX_OVERLAP_DAYS, zero=True),
        default=parse_duration_s(DEFAULT_OVERLAP),
        metavar="DURATION",
        help=f"how long the old secret still signs: 24h, 30m, 0 (default: "
        f"{DEFAULT_OVERLAP})",
    )
    rotate.set_defaults(handler=rotate_command)


# The old secret's last day must still be a calendar date.
MAX_OVERLAP_DAYS = 365


def secret_command(args: argparse.Namespace) -> int:
    with database_session() as session:
        secret = current_secret(session, find_tenant(session, args.tenant).id)
    print(secret)  # alone, so that `SECRET=$(helixq webhooks secret ...)` works
    return 0


def rotate_command(args: argparse.Namespace) -> int:
    with database_session() as session:
        secret = rotate_secret(
            session,
            find_tenant(session, args.tenant).id,
            now=datetime.now(UTC),
            overlap=timedelta(seconds=args.overlap),
        )
    print(secret)  # after commit: the printed secret is the one that signs
    return 0
