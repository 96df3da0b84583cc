"""`helixq-alive worker|beat`: the liveness probe of a worker or beat container.

Exits 0 while every running process of that kind on this machine has made progress
lately (shared.liveness), 1 with one line saying which is stuck otherwise, 2 on bad
usage or settings. A console script of its own, not a `helixq` command: a probe
runs every few seconds in every container, and this one loads no web framework,
no Celery and no database driver.
"""

import argparse
import sys
from collections.abc import Sequence

from shared.errors import SettingsError
from shared.liveness import ROLES, check_marks
from shared.settings import LivenessSettings, load_settings

ALIVE = 0
STUCK = 1
USAGE = 2


def main(argv: Sequence[str] | None = None) -> int:
    """Check the marks of one role; the exit code is the verdict."""
    parser = argparse.ArgumentParser(
        prog="helixq-alive",
        description="Liveness probe: exit 0 while the worker (or beat) processes on "
        "this machine make progress, 1 when one is stuck or none runs.",
    )
    parser.add_argument("role", choices=ROLES)
    parser.add_argument(
        "--max-age",
        type=float,
        help="seconds without progress that count as stuck "
        "(default: HELIXQ_ALIVE_MAX_AGE_S or 60)",
    )
    args = parser.parse_args(argv)
    try:
        settings = load_settings(LivenessSettings)
    except SettingsError as exc:
        print(f"helixq-alive: {exc.message}", file=sys.stderr)
        return USAGE
    verdict = check_marks(
        settings.helixq_alive_dir,
        args.role,
        max_age_s=args.max_age or settings.helixq_alive_max_age_s,
    )
    print(verdict.reason, file=sys.stdout if verdict.alive else sys.stderr)
    return ALIVE if verdict.alive else STUCK
