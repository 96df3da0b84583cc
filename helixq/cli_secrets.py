"""`helixq secrets generate|reseal`: the key that seals tenants' OpenRouter keys."""

import argparse

from helixq.cli_admin import CLI_ACTOR, database_session
from helixq.cli_services import SubParsers
from shared.errors import SettingsError
from shared.openrouter_key_store import SECRET_KEY_MISSING, reseal_on_record
from shared.sealing import generate_secret_key
from shared.settings import SealingSettings, load_settings


def add_secret_commands(commands: SubParsers) -> None:
    secrets = commands.add_parser(
        "secrets", help="HELIXQ_SECRET_KEY, which seals tenants' OpenRouter keys"
    )
    actions = secrets.add_subparsers(dest="action", required=True)
    generate = actions.add_parser(
        "generate", help="print a new key for HELIXQ_SECRET_KEY alone on stdout"
    )
    generate.set_defaults(handler=generate_command)
    reseal = actions.add_parser(
        "reseal",
        help="seal every stored OpenRouter key with the first key of "
        "HELIXQ_SECRET_KEY, so that the others can be dropped from it",
    )
    reseal.set_defaults(handler=reseal_command)


def generate_command(_args: argparse.Namespace) -> int:
    print(generate_secret_key())  # alone, so that `KEY=$(helixq secrets generate)`
    return 0


def reseal_command(_args: argparse.Namespace) -> int:
    box = load_settings(SealingSettings).box()
    if box is None:
        raise SettingsError(SECRET_KEY_MISSING)
    with database_session() as session:
        done = reseal_on_record(session, box, CLI_ACTOR)
    print(f"resealed {done.resealed} OpenRouter keys")
    if done.unreadable:
        print(f"not opened by any key given: {', '.join(done.unreadable)}")
        return 1
    return 0
