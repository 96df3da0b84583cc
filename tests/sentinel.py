"""A Redis master, its replica and three Sentinels (Debian's redis-sentinel) on
127.0.0.1, each in its own folder and process group, for the failover test."""

import os
import shutil
import signal
import subprocess
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import redis

from helixq.processes import free_port
from tests.polling import wait_until

REDIS_SERVER = shutil.which("redis-server")
REDIS_SENTINEL = shutil.which("redis-sentinel")
MASTER_NAME = "helixq"
SENTINELS = 3
QUORUM = 2
# Quick enough for a test: the master is judged down after 1 s without an answer.
DOWN_AFTER_MS = 1000
FAILOVER_TIMEOUT_MS = 5000
READY_TIMEOUT_S = 20


def require_sentinel() -> tuple[str, str]:
    """redis-server and redis-sentinel, or the test is skipped saying how."""
    if REDIS_SERVER is None or REDIS_SENTINEL is None:
        pytest.skip(
            "redis-server or redis-sentinel is not installed "
            "(Debian: apt-get install redis-server redis-sentinel)"
        )
    return REDIS_SERVER, REDIS_SENTINEL


@dataclass
class SentinelGroup:
    master_port: int
    replica_port: int
    sentinel_ports: list[int]
    processes: dict[str, "subprocess.Popen[bytes]"] = field(default_factory=dict)

    @property
    def url(self) -> str:
        """REDIS_URL for helixq: the Sentinels, the database and the master's name."""
        hosts = ",".join(f"127.0.0.1:{port}" for port in self.sentinel_ports)
        return f"sentinel://{hosts}/0?master={MASTER_NAME}"

    def master_address(self) -> tuple[str, int] | None:
        """Where the first Sentinel that answers says the master is."""
        for port in self.sentinel_ports:
            reply = _ask(
                port,
                lambda client: client.sentinel_get_master_addr_by_name(MASTER_NAME),
            )
            if reply:
                host, master_port = reply
                return host, int(master_port)
        return None

    def kill(self, name: str) -> None:
        """SIGKILL the process group of `name` (`master`, `replica`, ...)."""
        process = self.processes[name]
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()


@contextmanager
def sentinel_group() -> Iterator[SentinelGroup]:
    server, sentinel = require_sentinel()
    root = Path(tempfile.mkdtemp(prefix="helixq-sentinel-"))
    group = SentinelGroup(
        master_port=free_port(),
        replica_port=free_port(),
        sentinel_ports=[free_port() for _ in range(SENTINELS)],
    )
    try:
        master = _server_argv(server, root / "master", group.master_port)
        _start(group, "master", master, root / "master")
        replica = _server_argv(server, root / "replica", group.replica_port)
        replica += ["--replicaof", "127.0.0.1", str(group.master_port)]
        _start(group, "replica", replica, root / "replica")
        for number, port in enumerate(group.sentinel_ports):
            directory = root / f"sentinel-{number}"
            config = _sentinel_config(directory, port, group)
            _start(group, f"sentinel-{number}", [sentinel, str(config)], directory)
        wait_until(
            lambda: _sentinels_see_everyone(group),
            timeout_s=READY_TIMEOUT_S,
            what="the Sentinels to see the master, the replica and each other",
        )
        yield group
    finally:
        for process in group.processes.values():
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
        shutil.rmtree(root, ignore_errors=True)


def _server_argv(binary: str, directory: Path, port: int) -> list[str]:
    directory.mkdir(parents=True)
    return [binary, "--port", str(port), "--bind", "127.0.0.1",
            "--save", "", "--appendonly", "no", "--dir", str(directory)]  # fmt: skip


def _start(group: SentinelGroup, name: str, argv: list[str], directory: Path) -> None:
    with (directory / "output.log").open("ab") as sink:
        group.processes[name] = subprocess.Popen(
            argv, stdout=sink, stderr=subprocess.STDOUT, start_new_session=True
        )


def _sentinel_config(directory: Path, port: int, group: SentinelGroup) -> Path:
    directory.mkdir(parents=True)
    config = directory / "sentinel.conf"  # Sentinel rewrites it as it learns
    config.write_text(
        f"port {port}\n"
        "bind 127.0.0.1\n"
        f"dir {directory}\n"
        f"sentinel monitor {MASTER_NAME} 127.0.0.1 {group.master_port} {QUORUM}\n"
        f"sentinel down-after-milliseconds {MASTER_NAME} {DOWN_AFTER_MS}\n"
        f"sentinel failover-timeout {MASTER_NAME} {FAILOVER_TIMEOUT_MS}\n"
        f"sentinel parallel-syncs {MASTER_NAME} 1\n"
    )
    return config


def _sentinels_see_everyone(group: SentinelGroup) -> bool:
    for port in group.sentinel_ports:
        master = _ask(port, lambda client: client.sentinel_master(MASTER_NAME))
        if master is None:
            return False
        if int(master["num-slaves"]) < 1:
            return False
        if int(master["num-other-sentinels"]) < SENTINELS - 1:
            return False
    return True


def _ask(port: int, question: Callable[[redis.Redis], Any]) -> Any:
    """What the Sentinel on `port` answers to `question`; None if it does not."""
    try:
        with redis.Redis(port=port, socket_timeout=1, decode_responses=True) as client:
            return question(client)
    except redis.RedisError:
        return None
