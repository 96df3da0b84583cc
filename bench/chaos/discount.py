"""The discount lane under faults: a batch on lane `discount` over two models, a
fault per scenario, then the checks: every line terminal, no line with two
results, no line submitted upstream twice (the simulator's count per custom_id).

The faults: worker and beat SIGKILLed while upstream batches are being sent and
while their results are being stored; an upstream batch that fails, one that
expires, and a POST whose answer is lost (scripted in the simulator for the first
model's next batch). Lines of a failed or expired upstream batch run realtime.
"""

import time
from collections.abc import Callable
from dataclasses import dataclass

import httpx

from bench.chaos.scenarios import (
    RECOVERY_DEADLINE_S,
    _create_tenant,
    _query,
    _terminal,
)
from bench.chaos.stack import Stack, wait_until

MODELS = ("openai/gpt-4o-mini", "anthropic/claude-3.5-haiku")
KILLS = 3


@dataclass(frozen=True)
class DiscountRow:
    scenario: str
    lines: int
    terminal: int
    succeeded: int
    lines_with_two_results: int
    upstream_batches: int
    lines_sent_upstream: int
    lines_sent_twice: int
    realtime_attempts: int
    recovery_s: float

    @property
    def ok(self) -> bool:
        return (
            self.terminal == self.lines
            and self.lines_with_two_results == 0
            and self.lines_sent_twice == 0
        )


def _kill_worker_and_beat(stack: Stack) -> None:
    for _ in range(KILLS):
        stack.kill("worker")
        stack.kill("beat")
        stack.start_worker()
        stack.start_beat()
        time.sleep(2)


def _upstream_rows(stack: Stack, slug: str, condition: str) -> int:
    return _query(
        stack,
        "SELECT count(*) FROM upstream_batches u JOIN tenants t ON t.id = u.tenant_id"
        f" WHERE t.slug = %s AND {condition}",
        slug,
    )


def _during_submission(stack: Stack, slug: str) -> None:
    wait_until(
        lambda: _upstream_rows(stack, slug, "u.sent_at IS NOT NULL") >= 1,
        timeout_s=60,
        what="the first upstream batch sent",
    )
    _kill_worker_and_beat(stack)


def _during_ingestion(stack: Stack, slug: str) -> None:
    wait_until(
        lambda: _upstream_rows(stack, slug, "u.results_stored_at IS NOT NULL") >= 1,
        timeout_s=120,
        what="the first upstream batch's results stored",
    )
    _kill_worker_and_beat(stack)


def _scripted(fault: str) -> Callable[[Stack], None]:
    def script(stack: Stack) -> None:
        body = {"model": MODELS[0], "batches": [fault]}
        httpx.post(f"{stack.sim_url}/_sim/batches/script", json=body).raise_for_status()

    return script


# name -> (before the batch is submitted, after it is submitted)
DISCOUNT_FAULTS: dict[
    str, tuple[Callable[[Stack], None] | None, Callable[[Stack, str], None] | None]
] = {
    "discount: SIGKILL worker + beat x3 during submission": (None, _during_submission),
    "discount: SIGKILL worker + beat x3 during result ingestion": (
        None,
        _during_ingestion,
    ),
    "discount: an upstream batch fails": (_scripted("fail"), None),
    "discount: an upstream batch expires": (_scripted("expire"), None),
    "discount: a lost POST answer": (_scripted("lose-answer"), None),
}


def run_discount_scenario(stack: Stack, name: str, lines: int) -> DiscountRow:
    httpx.post(f"{stack.sim_url}/_sim/reset").raise_for_status()
    slug, api_key = _create_tenant(stack)
    before, after = DISCOUNT_FAULTS[name]
    if before is not None:
        before(stack)
    _submit(stack.api_url, api_key, lines)
    fault_at = time.monotonic()
    if after is not None:
        after(stack, slug)
    deadline = fault_at + RECOVERY_DEADLINE_S
    while _terminal(stack, slug) < lines and time.monotonic() < deadline:
        time.sleep(0.25)
    return _check(stack, name, slug, lines, time.monotonic() - fault_at)


def _submit(api_url: str, api_key: str, lines: int) -> None:
    requests = [
        {
            "custom_id": f"line-{n}",
            "body": {
                "model": MODELS[n % len(MODELS)],
                "messages": [{"role": "user", "content": f"Say hello to {n}."}],
                "max_tokens": 16,
            },
        }
        for n in range(lines)
    ]
    body = {"requests": requests, "lane": "discount", "completion_window": "24h"}
    headers = {"Authorization": f"Bearer {api_key}"}
    with httpx.Client(base_url=api_url, headers=headers, timeout=120) as client:
        # Refused until beat's first catalog sync has listed the `:batch` models.
        wait_until(
            lambda: client.post("/v1/batches", json=body).status_code == 201,
            timeout_s=60,
            what="the discount batch accepted",
        )


_JOBS = "SELECT j.id FROM jobs j JOIN tenants t ON t.id = j.tenant_id WHERE t.slug = %s"


def _check(
    stack: Stack, name: str, slug: str, lines: int, recovery_s: float
) -> DiscountRow:
    submissions = httpx.get(f"{stack.sim_url}/_sim/batches/submissions").json()
    return DiscountRow(
        scenario=name,
        lines=lines,
        terminal=_terminal(stack, slug),
        succeeded=_query(
            stack, f"SELECT count(*) FROM ({_JOBS} AND j.status = 'succeeded') s", slug
        ),
        lines_with_two_results=_query(
            stack,
            "SELECT count(*) FROM (SELECT job_id FROM attempts WHERE outcome ="
            f" 'succeeded' AND job_id IN ({_JOBS}) GROUP BY job_id"
            " HAVING count(*) > 1) AS d",
            slug,
        ),
        upstream_batches=_upstream_rows(stack, slug, "u.upstream_id IS NOT NULL"),
        lines_sent_upstream=int(submissions["lines"]),
        lines_sent_twice=len(submissions["duplicates"]),
        realtime_attempts=_query(
            stack,
            f"SELECT count(*) FROM attempts WHERE lane = 'realtime' AND job_id IN "
            f"({_JOBS})",
            slug,
        ),
        recovery_s=recovery_s,
    )


def discount_table(rows: list[DiscountRow]) -> str:
    lines = [
        "| fault | lines | terminal | succeeded | lines with 2 results "
        "| upstream batches | lines sent upstream | lines sent twice "
        "| realtime attempts | recovery | ok |",
        "|" + "---|" * 11,
    ]
    for row in rows:
        lines.append(
            f"| {row.scenario} | {row.lines} | {row.terminal} | {row.succeeded} "
            f"| {row.lines_with_two_results} | {row.upstream_batches} "
            f"| {row.lines_sent_upstream} | {row.lines_sent_twice} "
            f"| {row.realtime_attempts} | {row.recovery_s:.1f} s "
            f"| {'yes' if row.ok else 'NO'} |"
        )
    return "\n".join(lines)
