"""`helixq tenants ...` and `helixq keys ...`: tenant admin on the database."""

import argparse
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from helixq.cli_services import SubParsers
from helixq.console import format_table
from shared import audit
from shared.db.models import ApiKey, Tenant
from shared.db.session import make_engine, make_sessions
from shared.durations import DAY_S, parse_duration_s
from shared.key_notices import announce_keys_changed
from shared.redis_servers import redis_client
from shared.settings import DatabaseSettings, RedisSettings, load_settings
from shared.strategies import FallbackStrategy, RouteStrategy
from shared.tenancy import (
    create_api_key,
    create_tenant,
    find_api_key,
    find_tenant,
    key_record,
    list_api_keys,
    list_tenants,
    record_key_change,
    record_tenant_created,
    revoke_api_key,
)

NOTICE_TIMEOUT_S = 5
CLI_ACTOR = audit.Actor(audit.ADMIN, audit.CLI_SOURCE)


def add_admin_commands(commands: SubParsers) -> None:
    tenants = commands.add_parser("tenants", help="create and list tenants")
    tenant_commands = tenants.add_subparsers(dest="action", required=True)
    create = tenant_commands.add_parser(
        "create", help="create a tenant, print its slug"
    )
    create.add_argument("name", help="display name; the slug is derived from it")
    create.add_argument("--default-model", help="e.g. openai/gpt-4o-mini")
    create.add_argument("--strategy", choices=[s.value for s in RouteStrategy])
    create.add_argument("--fallback", choices=[f.value for f in FallbackStrategy])
    create.set_defaults(handler=create_tenant_command)
    tenant_commands.add_parser("list", help="list tenants").set_defaults(
        handler=list_tenants_command
    )
    _add_key_commands(commands)


def _add_key_commands(commands: SubParsers) -> None:
    keys = commands.add_parser("keys", help="create, list and revoke tenant API keys")
    key_commands = keys.add_subparsers(dest="action", required=True)
    create = key_commands.add_parser(
        "create", help="create a key and print it alone on stdout (shown only once)"
    )
    create.add_argument("--tenant", required=True, metavar="SLUG")
    create.add_argument("--name", default="default", help="a label for the key")
    create.add_argument(
        "--expires-in",
        type=duration_up_to_days(MAX_KEY_LIFETIME_DAYS),
        metavar="DURATION",
        help="how long the key works: 30d, 12h, 90m or seconds (default: forever)",
    )
    create.set_defaults(handler=create_key_command)
    listing = key_commands.add_parser("list", help="list a tenant's keys (no secrets)")
    listing.add_argument("--tenant", required=True, metavar="SLUG")
    listing.set_defaults(handler=list_keys_command)
    revoke = key_commands.add_parser("revoke", help="revoke the key with this prefix")
    revoke.add_argument("prefix", help="the key's first 12 characters (see keys list)")
    revoke.set_defaults(handler=revoke_key_command)


# A key's lifetime must still end on a calendar date.
MAX_KEY_LIFETIME_DAYS = 36_500


def duration_up_to_days(max_days: int, *, zero: bool = False) -> Callable[[str], float]:
    """An argparse type: `30d`, `12h`, `90m` or seconds, at most `max_days`
    days, and more than zero unless `zero` is allowed."""

    def parse(text: str) -> float:
        try:
            seconds = parse_duration_s(text)
        except ValueError as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None
        if seconds == 0 and not zero:
            raise argparse.ArgumentTypeError("expected a duration longer than zero")
        if seconds > max_days * DAY_S:
            raise argparse.ArgumentTypeError(
                f"expected at most {max_days}d, got {text!r}"
            )
        return seconds

    return parse


@contextmanager
def database_session() -> Iterator[Session]:
    """One transaction on DATABASE_URL, committed when the block succeeds."""
    engine = make_engine(load_settings(DatabaseSettings))
    try:
        with make_sessions(engine).begin() as session:
            yield session
    finally:
        engine.dispose()


def create_tenant_command(args: argparse.Namespace) -> int:
    with database_session() as session:
        tenant = create_tenant(
            session,
            args.name,
            default_model=args.default_model,
            route_strategy=args.strategy,
            fallback_strategy=args.fallback,
        )
        slug = tenant.slug
        record_tenant_created(session, CLI_ACTOR, tenant)
    print(slug)  # after commit: a printed slug exists
    return 0


def list_tenants_command(_args: argparse.Namespace) -> int:
    with database_session() as session:
        rows = [_tenant_row(tenant) for tenant in list_tenants(session)]
    headers = ("SLUG", "NAME", "DEFAULT MODEL", "STRATEGY", "FALLBACK", "CREATED")
    print(format_table(headers, rows))
    return 0


def _tenant_row(tenant: Tenant) -> tuple[str, ...]:
    return (
        tenant.slug,
        tenant.name,
        tenant.default_model or "-",
        tenant.route_strategy or "-",
        tenant.fallback_strategy or "-",
        format_time(tenant.created_at),
    )


def create_key_command(args: argparse.Namespace) -> int:
    expires_at = None
    if args.expires_in is not None:
        expires_at = datetime.now(UTC) + timedelta(seconds=args.expires_in)
    with database_session() as session:
        tenant = find_tenant(session, args.tenant)
        issued = create_api_key(session, tenant, name=args.name, expires_at=expires_at)
        api_key = find_api_key(session, tenant, issued.prefix)
        record_key_change(session, CLI_ACTOR, "key.create", api_key, tenant=tenant.slug)
    print(issued.key)  # alone, so that `KEY=$(helixq keys create ...)` works
    return 0


def list_keys_command(args: argparse.Namespace) -> int:
    with database_session() as session:
        tenant = find_tenant(session, args.tenant)
        rows = [_key_row(api_key) for api_key in list_api_keys(session, tenant)]
    headers = ("PREFIX", "NAME", "CREATED", "EXPIRES", "REVOKED")
    print(format_table(headers, rows))
    return 0


def _key_row(api_key: ApiKey) -> tuple[str, ...]:
    # Never the hash: the prefix is all an operator needs to act on a key.
    return (
        api_key.prefix,
        api_key.name,
        format_time(api_key.created_at),
        format_time(api_key.expires_at, missing="never"),
        format_time(api_key.revoked_at, missing="-"),
    )


def revoke_key_command(args: argparse.Namespace) -> int:
    with database_session() as session:
        before = key_record_of(session, args.prefix)
        api_key = revoke_api_key(session, args.prefix, now=datetime.now(UTC))
        revoked_at = format_time(api_key.revoked_at)
        tenant = session.get(Tenant, api_key.tenant_id)
        record_key_change(
            session,
            CLI_ACTOR,
            "key.revoke",
            api_key,
            tenant=tenant.slug if tenant else None,
            before=before,
        )
    print(f"revoked {args.prefix} at {revoked_at}")
    client = redis_client(
        load_settings(RedisSettings).redis_url, socket_timeout=NOTICE_TIMEOUT_S
    )
    with client:
        if not announce_keys_changed(client, args.prefix):
            print(
                "Redis unreachable: running API processes stop accepting the key "
                "within HELIXQ_AUTH_CACHE_S (5 s unless set)",
                file=sys.stderr,
            )
    return 0


def key_record_of(session: Session, prefix: str) -> dict[str, object] | None:
    """The key's audit record before a change (None when no key has the prefix)."""
    api_key = session.scalar(select(ApiKey).where(ApiKey.prefix == prefix))
    return key_record(api_key) if api_key is not None else None


def format_time(moment: datetime | None, *, missing: str = "-") -> str:
    """`2026-11-24 06:30 UTC`, or `missing` for no time."""
    if moment is None:
        return missing
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")
