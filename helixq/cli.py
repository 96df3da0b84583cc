"""`helixq`: the one console script (the stack, its processes, tenant and key
admin, and batches over the HTTP API)."""

import argparse
import os
import sys
from collections.abc import Callable, Sequence

from sqlalchemy.exc import DBAPIError, SQLAlchemyError

from helixq import console
from helixq.cli_admin import add_admin_commands
from helixq.cli_batches import add_batch_commands, add_job_commands
from helixq.cli_secrets import add_secret_commands
from helixq.cli_services import add_service_commands
from helixq.cli_submit import add_submit_command
from helixq.cli_usage import add_usage_command
from helixq.cli_webhooks import add_webhook_commands
from helixq.errors import ApiUnreachable
from shared.errors import BrokerError, InvalidRequest, SettingsError

OK = 0
FAILED = 1  # the operation failed: unknown tenant, unreachable database, ...
USAGE = 2  # bad usage or settings; argparse uses it too
UNREACHABLE = 3  # no answer from the API: wrong URL, not running
INTERRUPTED = 130  # the shell's code for Ctrl-C
CLOSED_PIPE = 141  # 128 + SIGPIPE, as shell tools exit when `| head` stops reading

EPILOG = """\
exit codes:
  0    success
  1    the operation failed (unknown tenant or key, database unreachable,
       a process of `helixq up` died, an API error, or requests that did
       not succeed with `submit --wait --fail-on-error`)
  2    bad usage or settings (unknown option, invalid environment variable,
       an unreadable prompts file, no API key)
  3    cannot reach the API (see --api-url, HELIXQ_API_URL)
  130  interrupted
  141  the reader of the output stopped early (`| head`)

Settings come from the environment and a .env file; beside a running
`helixq up`, DATABASE_URL and REDIS_URL come from .helixq/stack.env.
"""

Handler = Callable[[argparse.Namespace], int]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="helixq",
        description="A durable job broker in front of OpenRouter.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    add_service_commands(commands)
    add_admin_commands(commands)
    add_webhook_commands(commands)
    add_secret_commands(commands)
    add_submit_command(commands)
    add_job_commands(commands)
    add_batch_commands(commands)
    add_usage_command(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; expected errors print one line and give an exit code."""
    args = build_parser().parse_args(argv)  # exits 2 with usage on bad arguments
    handler: Handler = args.handler
    try:
        return handler(args)
    except (SettingsError, InvalidRequest) as exc:
        return _fail(exc.message, USAGE)
    except ApiUnreachable as exc:
        return _fail(exc.message, UNREACHABLE)
    except BrokerError as exc:
        return _fail(exc.message, FAILED)
    except SQLAlchemyError as exc:
        return _fail(f"database error: {describe_database_error(exc)}", FAILED)
    except BrokenPipeError:
        return _closed_pipe()
    except OSError as exc:
        return _fail(str(exc), FAILED)
    except KeyboardInterrupt:
        return INTERRUPTED


def _closed_pipe() -> int:
    # Point stdout at /dev/null, or Python reports the failed flush at exit.
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    return CLOSED_PIPE


def _fail(message: str, code: int) -> int:
    console.error(message)
    return code


def describe_database_error(exc: SQLAlchemyError) -> str:
    """The driver's first line, without SQLAlchemy's statement and link."""
    cause = exc.orig if isinstance(exc, DBAPIError) else exc
    lines = str(cause).strip().splitlines()
    return lines[0] if lines else type(exc).__name__
