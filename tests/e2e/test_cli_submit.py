"""`helixq submit --wait` and the batch commands, as a user runs them, on the stack."""

import json
import subprocess
from pathlib import Path

import pytest

from tests.e2e.conftest import HELIXQ, Client, Stack

pytestmark = pytest.mark.timeout(120)


def helixq(stack: Stack, client: Client, cwd: Path, *argv: str):
    command = [HELIXQ, *argv, "--api-url", stack.api_url]
    return subprocess.run(
        [*command, "--key", client.key],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=90,
        check=False,
    )


def write_prompts(path: Path, *models: str) -> Path:
    lines = [
        json.dumps({"prompt": f"Say {n}", "model": m}) for n, m in enumerate(models)
    ]
    path.write_text("\n".join(lines) + "\n")
    return path


def test_submit_wait_prints_a_summary_and_exits_0(
    stack: Stack, tenant_client: Client, tmp_path: Path
) -> None:
    prompts = write_prompts(tmp_path / "prompts.jsonl", *["openai/gpt-4o-mini"] * 3)
    done = helixq(stack, tenant_client, tmp_path, "submit", str(prompts), "--wait")
    assert done.returncode == 0, done.stderr
    header, row = done.stdout.splitlines()
    assert header.startswith("SUCCEEDED  FAILED  EXPIRED  CANCELLED  COST USD")
    succeeded, failed, expired, cancelled, cost, p50, unit = row.split()
    assert (succeeded, failed, expired, cancelled, unit) == ("3", "0", "0", "0", "ms")
    assert float(cost) > 0
    assert int(p50) > 0
    assert "3/3 100%" in done.stderr
    batch_id = done.stderr.split()[1].rstrip(":")

    results = helixq(stack, tenant_client, tmp_path, "batches", "results", batch_id)
    assert results.returncode == 0, results.stderr
    lines = [json.loads(line) for line in results.stdout.splitlines()]
    assert sorted(line["custom_id"] for line in lines) == ["line-1", "line-2", "line-3"]
    shown = helixq(stack, tenant_client, tmp_path, "jobs", "show", lines[0]["id"])
    assert shown.returncode == 0, shown.stderr
    assert "status       succeeded" in shown.stdout


def test_fail_on_error_exits_1_naming_the_failed_requests(
    stack: Stack, tenant_client: Client, tmp_path: Path
) -> None:
    prompts = write_prompts(tmp_path / "mixed.jsonl", "openai/gpt-4o-mini", "sim/400")
    argv = ("submit", str(prompts), "--wait", "--fail-on-error")
    done = helixq(stack, tenant_client, tmp_path, *argv)
    assert done.returncode == 1, done.stderr
    assert done.stdout.splitlines()[1].split()[:2] == ["1", "1"]
    assert done.stderr.endswith("helixq: 1 of 2 requests did not succeed\n")


def test_an_unknown_batch_is_exit_1_with_the_api_message(
    stack: Stack, tenant_client: Client, tmp_path: Path
) -> None:
    missing = "00000000-0000-4000-8000-000000000000"
    done = helixq(stack, tenant_client, tmp_path, "batches", "show", missing)
    assert (done.returncode, done.stdout) == (1, "")
    assert done.stderr == f"helixq: batch {missing} not found\n"
