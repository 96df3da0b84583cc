import io
from decimal import Decimal
from typing import Any

from helixq.batch_summary import format_usd, summarize, summary_row
from helixq.progress import Progress, render_bar


def test_bar_shows_share_counts_failures_and_status() -> None:
    text = render_bar(5, 20, failed=1, status="in_progress")
    assert text == f"[{'#' * 8}{'.' * 22}] 5/20  25%  1 failed  in_progress"
    assert render_bar(0, 0, failed=0, status="validating").startswith("[" + "." * 30)


def test_on_a_terminal_the_bar_is_redrawn_in_place() -> None:
    out = io.StringIO()
    progress = Progress(out, is_tty=True)
    progress.update(1, 2, failed=0, status="in_progress")
    progress.update(2, 2, failed=0, status="done")
    progress.finish()
    redraws = out.getvalue().split("\r")[1:]
    assert len(redraws) == 2
    assert redraws[1].rstrip().endswith("2/2 100%  done")
    assert len(redraws[1]) >= len(redraws[0].rstrip("\n"))  # covers the old one
    assert out.getvalue().endswith("\n")


def test_off_a_terminal_a_line_now_and_then_and_the_last_state() -> None:
    now = [0.0]
    out = io.StringIO()
    progress = Progress(out, is_tty=False, clock=lambda: now[0])
    for done in range(5):
        progress.update(done, 10, failed=0, status="in_progress")
        now[0] += 3  # a line every 10 s at most
    progress.update(10, 10, failed=0, status="completed")
    progress.finish()
    lines = out.getvalue().splitlines()
    assert "\r" not in out.getvalue()
    assert [line.split()[1] for line in lines] == ["0/10", "4/10", "10/10"]


def test_summary_counts_statuses_sums_cost_and_takes_the_median_latency() -> None:
    results: list[dict[str, Any]] = [
        {"status": "succeeded", "cost_usd": "0.000100000000", "latency_ms": 100},
        {"status": "succeeded", "cost_usd": "0.000200000000", "latency_ms": 300},
        {"status": "succeeded", "cost_usd": "0.000050000000", "latency_ms": 200},
        {"status": "failed", "cost_usd": "0.000001", "latency_ms": 5000},
        {"status": "expired", "cost_usd": None, "latency_ms": None},
    ]
    summary = summarize(results)
    assert (summary.succeeded, summary.failed, summary.expired) == (3, 1, 1)
    assert summary.cost_usd == Decimal("0.000351")
    assert summary.p50_latency_ms == 200  # failures' latency is not a success's
    assert not summary.is_all_succeeded
    assert summary_row(summary) == ("3", "1", "1", "0", "0.000351", "200 ms")


def test_summary_of_nothing_has_no_latency() -> None:
    summary = summarize([])
    assert summary_row(summary) == ("0", "0", "0", "0", "0", "-")
    assert summary.is_all_succeeded
    assert format_usd(Decimal("1.500")) == "1.5"
