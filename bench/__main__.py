"""`make bench`: every benchmark in turn, each in its own process.

Uses DATABASE_URL / REDIS_URL when set; otherwise starts the embedded servers for the
run, so it works on a fresh machine. `python -m bench NAME…` runs only those.
"""

import os
import subprocess
import sys
import tempfile
from pathlib import Path

from helixq.embedded import embedded_servers

BENCHMARKS = [
    "worker_throughput",
    "routing_strategies",
    "batch_ingest",
    "file_batch_ingest",
    "rate_limits",
    "fairness",
    "submit_api",
    "sync_path",
    "streaming",
    "statement_export",
    "discount_lane",
    "component_costs",
]


def _run(names: list[str], env: dict[str, str]) -> int:
    failed = []
    for name in names:
        if not (Path(__file__).parent / f"{name}.py").exists():
            continue
        print(f"\n=== bench.{name} ===", flush=True)
        if subprocess.run([sys.executable, "-m", f"bench.{name}"], env=env).returncode:
            failed.append(name)
    if failed:
        print(f"\nfailed: {', '.join(failed)}")
    return 1 if failed else 0


def main() -> int:
    names = sys.argv[1:] or BENCHMARKS
    if os.environ.get("DATABASE_URL") and os.environ.get("REDIS_URL"):
        return _run(names, dict(os.environ))
    with embedded_servers(Path(tempfile.mkdtemp(prefix="helixq-bench-"))) as urls:
        env = {
            **os.environ,
            "DATABASE_URL": urls.database_url,
            "REDIS_URL": urls.redis_url,
        }
        return _run(names, env)


if __name__ == "__main__":
    sys.exit(main())
