"""The dashboard in headless Chromium against the running stack: it loads, signs in
from the URL fragment, and draws every chart from real jobs, streamed ones
included; a screenshot is kept."""

import shutil
import subprocess
from collections import Counter
from html.parser import HTMLParser
from pathlib import Path

import pytest

from tests.e2e.conftest import Client, Stack
from tests.e2e.test_pipeline import submit, wait_terminal

pytestmark = pytest.mark.timeout(180)
SCREENSHOT = Path("tests/artifacts/dashboard.png")
CHROMIUM = shutil.which("chromium")
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--hide-scrollbars",
    # Virtual time runs until the page is idle: fetches finish before the dump.
    "--virtual-time-budget=8000",
]


class ChartElements(HTMLParser):
    """Counts the SVG shapes inside each `data-chart` container of a dumped DOM."""

    def __init__(self) -> None:
        super().__init__()
        self.current: str | None = None
        self.points: dict[str, int] = {}
        self.shapes: dict[str, Counter[str]] = {}
        self.body: dict[str, str | None] = {}
        self.table: str | None = None
        self.rows: dict[str, list[list[str]]] = {}

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        if tag == "body":
            self.body = found
        if tag == "section":
            self.current = None
        chart = found.get("data-chart")
        if chart:
            self.current = chart
            self.points[chart] = int(found.get("data-points") or 0)
            self.shapes[chart] = Counter()
        elif self.current and tag in {"path", "rect", "circle"}:
            self.shapes[self.current][tag] += 1
        if tag == "table" and found.get("id"):
            self.table = found["id"]
            self.rows[self.table] = []
        elif tag == "tr" and self.table:
            self.rows[self.table].append([])
        elif tag == "td" and self.table:
            self.rows[self.table][-1].append("")

    def handle_endtag(self, tag: str) -> None:
        if tag == "table":
            self.table = None

    def handle_data(self, data: str) -> None:
        if self.table and self.rows[self.table] and self.rows[self.table][-1]:
            self.rows[self.table][-1][-1] += data


def chromium(url: str, profile: Path, *extra: str) -> str:
    argv = [str(CHROMIUM), *CHROMIUM_FLAGS, f"--user-data-dir={profile}", *extra, url]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=90, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


@pytest.mark.skipif(
    CHROMIUM is None, reason="no `chromium` binary: apt-get install chromium"
)
def test_dashboard_draws_every_chart_in_headless_chromium(
    stack: Stack, tenant_client: Client, tmp_path: Path
) -> None:
    jobs = [submit(tenant_client) for _ in range(4)]
    jobs += [submit(tenant_client, stream=True) for _ in range(2)]
    jobs += [submit(tenant_client, model="sim/400")]
    views = [wait_terminal(tenant_client, job_id) for job_id in jobs]
    assert sorted(v["status"] for v in views) == ["failed"] + ["succeeded"] * 6
    url = f"{stack.api_url}/dashboard#token={tenant_client.key}"

    SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
    SCREENSHOT.unlink(missing_ok=True)
    chromium(
        url,
        tmp_path / "shot",
        f"--screenshot={SCREENSHOT.resolve()}",
        "--window-size=1280,900",
    )
    assert SCREENSHOT.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"

    dom = chromium(url, tmp_path / "dom", "--dump-dom")
    parsed = ChartElements()
    parsed.feed(dom)
    assert parsed.body.get("data-ready") == "true", dom[:2000]
    assert tenant_client.key not in dom  # the fragment is dropped once read
    assert parsed.points["throughput"] >= 1
    assert parsed.shapes["throughput"]["rect"] >= 2  # succeeded and failed
    for chart in ("latency", "first-token", "cost"):
        assert parsed.points[chart] >= 1
        assert parsed.shapes[chart]["path"] >= 1
        assert parsed.shapes[chart]["circle"] >= 1
    assert parsed.shapes["queues"]["rect"] >= 1  # the tenant's bar, even when idle
    assert "openai/gpt-4o-mini" in dom
    rows = {cells[0]: cells for cells in parsed.rows["models"] if cells}
    _, attempts, _, _, _, first_token_p50, _ = rows["openai/gpt-4o-mini"]
    assert int(attempts) >= 6
    assert int(first_token_p50) > 0  # the median of the streamed calls
    assert "upstream_bad_request" in dom
