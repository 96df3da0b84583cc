"""What the API commands share: `--api-url` and `--key`, and field listings."""

import argparse
from collections.abc import Sequence

from helixq.api_client import ApiClient
from helixq.settings import ClientSettings
from helixq.state import StateDir, read_secret
from shared.errors import InvalidRequest
from shared.settings import load_settings


def client_options() -> argparse.ArgumentParser:
    """A parent parser: every API command takes the same two options."""
    parent = argparse.ArgumentParser(add_help=False)
    parent.add_argument(
        "--api-url",
        metavar="URL",
        help="the broker's API (default: HELIXQ_API_URL or http://127.0.0.1:8000)",
    )
    parent.add_argument(
        "--key",
        metavar="KEY",
        help="a tenant API key (default: HELIXQ_API_KEY, else .helixq/demo-api-key)",
    )
    return parent


def connect(args: argparse.Namespace, state: StateDir | None = None) -> ApiClient:
    """A client for the API named by the options, the environment or the defaults."""
    settings = load_settings(ClientSettings)
    key = args.key or (
        settings.helixq_api_key.get_secret_value()
        if settings.helixq_api_key
        else read_secret((state or StateDir()).demo_key_file)
    )
    if not key:
        raise InvalidRequest(
            "no API key: pass --key, set HELIXQ_API_KEY, or run `helixq up` in this "
            "folder (it writes .helixq/demo-api-key)"
        )
    return ApiClient(args.api_url or settings.helixq_api_url, key)


def format_fields(fields: Sequence[tuple[str, str]]) -> str:
    """`name   value` lines, names padded to the longest one."""
    width = max((len(name) for name, _ in fields), default=0)
    return "\n".join(f"{name.ljust(width)}  {value}" for name, value in fields)
