"""The API commands against a respx-mocked API: output, errors and exit codes."""

import json
from datetime import date
from pathlib import Path
from typing import Any

import httpx
import pytest
import respx

from helixq import cli
from helixq.cli import main
from helixq.cli_usage import usage_params

API = "http://api.test"
KEY = "sk-hq-test-key"
BATCH_ID = "7d3c5e2a-0000-4000-8000-000000000001"


def batch_view(status: str, *, succeeded: int = 0, failed: int = 0, total: int = 2):
    pending = total - succeeded - failed
    counts = {"total": total, "succeeded": succeeded, "failed": failed}
    counts |= {"cancelled": 0, "expired": 0, "pending": pending}
    return {
        "id": BATCH_ID,
        "status": status,
        "request_counts": counts,
        "created_at": "2026-11-24T07:00:00Z",
        "expires_at": "2026-11-25T07:00:00Z",
        "completed_at": "2026-11-24T07:01:00Z" if status == "completed" else None,
    }


def result(custom_id: str, status: str, latency_ms: int) -> str:
    line = {"custom_id": custom_id, "status": status, "latency_ms": latency_ms}
    return json.dumps(line | {"cost_usd": "0.000100000000"})


@pytest.fixture
def api(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("HELIXQ_API_URL", API)
    monkeypatch.setenv("HELIXQ_API_KEY", KEY)
    with respx.mock(base_url=API, assert_all_called=False) as router:
        yield router


@pytest.fixture
def prompts(tmp_path: Path) -> Path:
    path = tmp_path / "prompts.jsonl"
    path.write_text('{"prompt": "one"}\n{"prompt": "two"}\n')
    return path


def test_submit_prints_the_batch_id_alone(api, prompts, capsys) -> None:
    create = api.post("/v1/batches").respond(201, json=batch_view("in_progress"))
    assert main(["submit", str(prompts), "--completion-window", "1h"]) == cli.OK
    assert capsys.readouterr().out == f"{BATCH_ID}\n"
    request = create.calls.last.request
    assert request.headers["authorization"] == f"Bearer {KEY}"
    assert request.headers["content-type"] == "application/jsonl"
    assert request.url.params["completion_window"] == "1h"
    lines = [json.loads(line) for line in request.content.splitlines()]
    assert [line["custom_id"] for line in lines] == ["line-1", "line-2"]


def test_submit_sends_the_lane_asked_for_and_auto_by_default(api, prompts) -> None:
    create = api.post("/v1/batches").respond(201, json=batch_view("in_progress"))
    assert main(["submit", str(prompts), "--lane", "discount"]) == cli.OK
    assert create.calls.last.request.url.params["lane"] == "discount"
    assert main(["submit", str(prompts)]) == cli.OK
    assert create.calls.last.request.url.params["lane"] == "auto"


def _finishing_batch(api, *statuses: tuple[str, str]) -> None:
    succeeded = sum(status == "succeeded" for _, status in statuses)
    api.post("/v1/batches").respond(201, json=batch_view("in_progress"))
    api.get(f"/v1/batches/{BATCH_ID}").mock(
        side_effect=[
            httpx.Response(200, json=batch_view("in_progress", succeeded=1)),
            httpx.Response(
                200,
                json=batch_view("completed", succeeded=succeeded, failed=2 - succeeded),
            ),
        ]
    )
    body = "\n".join(
        result(cid, status, 100 * n)
        for n, (cid, status) in enumerate(statuses, start=1)
    )
    api.get(f"/v1/batches/{BATCH_ID}/results").respond(200, text=body + "\n")


def test_submit_wait_shows_progress_then_a_summary(api, prompts, capsys) -> None:
    _finishing_batch(api, ("line-1", "succeeded"), ("line-2", "succeeded"))
    argv = ["submit", str(prompts), "--wait", "--poll-interval", "0"]
    assert main(argv) == cli.OK
    captured = capsys.readouterr()
    header, row = captured.out.splitlines()
    assert header.split() == [
        "SUCCEEDED",
        "FAILED",
        "EXPIRED",
        "CANCELLED",
        "COST",
        "USD",
        "P50",
        "LATENCY",
    ]
    assert row.split() == ["2", "0", "0", "0", "0.0002", "150", "ms"]
    assert f"batch {BATCH_ID}: 2 requests queued" in captured.err
    assert "2/2 100%" in captured.err
    assert "\r" not in captured.err  # not a terminal: whole lines only


def test_fail_on_error_exits_1_when_a_request_failed(api, prompts, capsys) -> None:
    _finishing_batch(api, ("line-1", "succeeded"), ("line-2", "failed"))
    argv = ["submit", str(prompts), "--wait", "--fail-on-error", "--poll-interval", "0"]
    assert main(argv) == cli.FAILED
    captured = capsys.readouterr()
    assert captured.out.splitlines()[1].split()[:2] == ["1", "1"]
    assert captured.err.endswith("helixq: 1 of 2 requests did not succeed\n")


def test_failed_requests_without_fail_on_error_still_exit_0(api, prompts) -> None:
    _finishing_batch(api, ("line-1", "succeeded"), ("line-2", "failed"))
    assert main(["submit", str(prompts), "--wait", "--poll-interval", "0"]) == cli.OK


def test_an_api_error_is_its_envelope_message_and_exit_1(api, prompts, capsys) -> None:
    envelope = {"error": {"code": "invalid_api_key", "message": "invalid API key"}}
    api.post("/v1/batches").respond(401, json=envelope)
    assert main(["submit", str(prompts)]) == cli.FAILED
    assert capsys.readouterr().err == "helixq: invalid API key\n"


def test_a_foreign_error_page_is_named_by_its_status(api, capsys) -> None:
    api.get("/v1/jobs/abc").respond(502, text="<html>Bad gateway</html>")
    assert main(["jobs", "show", "abc"]) == cli.FAILED
    assert capsys.readouterr().err == "helixq: HTTP 502\n"


def test_an_unreachable_api_exits_3(api, capsys) -> None:
    api.get(f"/v1/batches/{BATCH_ID}").mock(side_effect=httpx.ConnectError("refused"))
    assert main(["batches", "show", BATCH_ID]) == cli.UNREACHABLE
    err = capsys.readouterr().err
    assert err.startswith(f"helixq: cannot reach the API at {API} (refused)")
    assert err.count("\n") == 1


def test_a_bad_prompts_file_is_bad_usage(api, tmp_path, capsys) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_text('{"prompt": "ok"}\n{"oops": 1}\n')
    assert main(["submit", str(path)]) == cli.USAGE
    assert capsys.readouterr().err.startswith("helixq: line 2: expected `messages`")
    assert not api.calls


def test_no_key_anywhere_is_bad_usage(monkeypatch, capsys) -> None:
    assert main(["jobs", "show", "abc"]) == cli.USAGE
    assert "no API key: pass --key" in capsys.readouterr().err


def test_the_demo_key_of_a_local_stack_is_used(monkeypatch, capsys) -> None:
    Path(".helixq").mkdir()
    Path(".helixq/demo-api-key").write_text("sk-demo\n")
    with respx.mock(base_url="http://127.0.0.1:8000") as router:
        route = router.get("/v1/batches/b1").respond(200, json=batch_view("completed"))
        assert main(["batches", "show", "b1"]) == cli.OK
    assert route.calls.last.request.headers["authorization"] == "Bearer sk-demo"


def test_key_and_url_options_win_over_the_environment(api) -> None:
    with respx.mock(base_url="http://other.test") as router:
        route = router.get("/v1/jobs/j1").respond(200, json=JOB)
        argv = ["jobs", "show", "j1", "--api-url", "http://other.test", "--key", "k2"]
        assert main(argv) == cli.OK
    assert route.calls.last.request.headers["authorization"] == "Bearer k2"


JOB: dict[str, Any] = {
    "id": "j1",
    "status": "succeeded",
    "custom_id": None,
    "model": "openai/gpt-4o-mini",
    "provider": "OpenAI",
    "usage": {"prompt_tokens": 12, "completion_tokens": 30, "total_tokens": 42},
    "cost_usd": "0.000021",
    "latency_ms": 840,
    "retries": 1,
    "attempts": [{}, {}],
    "created_at": "2026-11-24T07:00:00Z",
    "finished_at": "2026-11-24T07:00:01Z",
    "error": None,
    "result": {"choices": [{"message": {"content": "Hello\nthere"}}]},
}


def test_jobs_show_lists_the_fields_that_matter(api, capsys) -> None:
    api.get("/v1/jobs/j1").respond(200, json=JOB)
    assert main(["jobs", "show", "j1"]) == cli.OK
    out = capsys.readouterr().out
    for expected in (
        "status       succeeded",
        "model        openai/gpt-4o-mini (OpenAI)",
        "tokens       12 prompt + 30 completion",
        "latency      840 ms",
        "attempts     2 (1 retries)",
        "output       Hello there",
    ):
        assert expected in out
    assert main(["jobs", "show", "j1", "--json"]) == cli.OK
    assert json.loads(capsys.readouterr().out) == JOB


def test_batches_show_results_and_cancel(api, capsys) -> None:
    api.get(f"/v1/batches/{BATCH_ID}").respond(
        200, json=batch_view("in_progress", succeeded=1)
    )
    lines = [result("a", "succeeded", 10), result("b", "failed", 20)]
    api.get(f"/v1/batches/{BATCH_ID}/results").respond(200, text="\n".join(lines))
    api.post(f"/v1/batches/{BATCH_ID}/cancel").respond(
        200, json=batch_view("cancelling", succeeded=1)
    )
    assert main(["batches", "show", BATCH_ID]) == cli.OK
    assert "requests    2 (1 succeeded, 1 pending)" in capsys.readouterr().out
    assert main(["batches", "results", BATCH_ID]) == cli.OK
    assert capsys.readouterr().out.splitlines() == lines
    assert main(["batches", "cancel", BATCH_ID]) == cli.OK
    assert (
        capsys.readouterr().out == f"batch {BATCH_ID}: cancelling (1 still running)\n"
    )


def test_batches_show_prints_unix_times_as_utc(api, capsys) -> None:
    view = {
        **batch_view("completed", succeeded=2),
        "created_at": 1795503600,
        "expires_at": 1795590000,
        "completed_at": 1795503660,
    }
    api.get(f"/v1/batches/{BATCH_ID}").respond(200, json=view)
    assert main(["batches", "show", BATCH_ID]) == cli.OK
    out = capsys.readouterr().out
    assert "created_at  2026-11-24T07:00:00Z" in out
    assert "expires_at  2026-11-25T07:00:00Z" in out
    assert "ended_at    2026-11-24T07:01:00Z" in out


def test_batches_cancel_says_when_nothing_was_left_to_cancel(api, capsys) -> None:
    message = (
        f"batch {BATCH_ID} had nothing left to cancel: every item had already "
        "ended, so the batch is completed"
    )
    error = {"code": "batch_nothing_to_cancel", "message": message, "details": {}}
    api.post(f"/v1/batches/{BATCH_ID}/cancel").respond(409, json={"error": error})
    assert main(["batches", "cancel", BATCH_ID]) == cli.FAILED
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err == f"helixq: {message}\n"


USAGE_REPORT = {
    "object": "usage",
    "start": "2026-11-18",
    "end": "2026-11-24",
    "group_by": ["model"],
    "totals": {
        "requests": 3,
        "succeeded": 3,
        "prompt_tokens": 30,
        "completion_tokens": 60,
        "cost_usd": "0.0003",
    },
    "data": [
        {
            "model": "a/b",
            "requests": 2,
            "succeeded": 2,
            "prompt_tokens": 20,
            "completion_tokens": 40,
            "cost_usd": "0.0002",
        },
        {
            "model": "c/d",
            "requests": 1,
            "succeeded": 1,
            "prompt_tokens": 10,
            "completion_tokens": 20,
            "cost_usd": "0.0001",
        },
    ],
}


def test_usage_is_a_table_with_a_total_row(api, capsys) -> None:
    route = api.get("/v1/usage").respond(200, json=USAGE_REPORT)
    assert main(["usage", "--window", "7d"]) == cli.OK
    out = capsys.readouterr().out.splitlines()
    assert out[0] == "usage from 2026-11-18 to 2026-11-24 (UTC days, included)"
    assert out[1].split()[:2] == ["MODEL", "REQUESTS"]
    assert out[2].split() == ["a/b", "2", "2", "20", "40", "0.0002"]
    assert out[-1].split() == ["TOTAL", "3", "3", "30", "60", "0.0003"]
    params = route.calls.last.request.url.params
    assert params["group_by"] == "model"
    assert "from" in params  # six days before today, UTC


@pytest.mark.parametrize(
    "argv",
    [
        ["usage", "--window", "7d", "--from", "2026-01-01"],
        ["usage", "--from", "yesterday"],
        ["submit"],
        ["batches", "show"],
        ["jobs", "list"],
    ],
)
def test_bad_usage_of_api_commands_exits_2(argv, capsys) -> None:
    with pytest.raises(SystemExit) as exited:
        main(argv)
    assert exited.value.code == cli.USAGE


def test_a_window_of_days_ends_today() -> None:
    args = cli.build_parser().parse_args(
        ["usage", "--window", "7d", "--to", "2026-11-24"]
    )
    params = usage_params(args, today=date(2026, 11, 24))
    assert params == {"group_by": "model", "from": "2026-11-18", "to": "2026-11-24"}


def test_a_reader_that_stops_early_ends_quietly_with_141(
    api, tmp_path, monkeypatch, capsys
) -> None:
    api.get(f"/v1/batches/{BATCH_ID}/results").respond(200, text="{}\n{}\n")
    stdout = (tmp_path / "stdout").open("w")
    monkeypatch.setattr("sys.stdout", stdout)

    def closed(*_args, **_kwargs):
        raise BrokenPipeError(32, "Broken pipe")

    monkeypatch.setattr("builtins.print", closed)
    assert main(["batches", "results", BATCH_ID]) == cli.CLOSED_PIPE
    assert capsys.readouterr().err == ""
    stdout.close()
