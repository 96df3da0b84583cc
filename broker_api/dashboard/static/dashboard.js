// The dashboard page: sign in with a token, fetch /dashboard/data, draw, refresh.
// The token lives in sessionStorage (this tab only) and travels as a Bearer header;
// a `#token=...` fragment is accepted once and removed from the address bar.
(function () {
  "use strict";

  const TOKEN_KEY = "helixq.dashboard.token";
  const REFRESH_MS = 10000;
  const charts = window.HelixCharts;
  const $ = (selector) => document.querySelector(selector);
  let timer = null;

  function takeTokenFromFragment() {
    const match = /(?:^#|&)token=([^&]+)/.exec(location.hash);
    if (!match) return;
    sessionStorage.setItem(TOKEN_KEY, decodeURIComponent(match[1]));
    history.replaceState(null, "", location.pathname + location.search);
  }

  function showLogin(message) {
    clearTimeout(timer);
    $("#board").hidden = true;
    $("#logout").hidden = true;
    $("#login").hidden = false;
    $("#login-error").textContent = message || "";
    $("#token").focus();
  }

  function setStatus(message) {
    $("#status").textContent = message;
  }

  async function errorMessage(response) {
    try {
      const body = await response.json();
      return body.error.message;
    } catch (_) {
      return `HTTP ${response.status}`;
    }
  }

  async function load() {
    clearTimeout(timer);
    const token = sessionStorage.getItem(TOKEN_KEY);
    if (!token) return showLogin("");
    const url = "dashboard/data?window=" + encodeURIComponent($("#window").value);
    let response;
    try {
      response = await fetch(url, { headers: { Authorization: "Bearer " + token }, cache: "no-store" });
    } catch (error) {
      setStatus("cannot reach the API; retrying");
      timer = setTimeout(load, REFRESH_MS);
      return;
    }
    if (response.status === 401 || response.status === 403) {
      sessionStorage.removeItem(TOKEN_KEY);
      return showLogin(await errorMessage(response));
    }
    if (!response.ok) {
      setStatus(await errorMessage(response));
    } else {
      render(await response.json());
    }
    timer = setTimeout(load, REFRESH_MS);
  }

  function duration(seconds) {
    return seconds % 3600 === 0 ? `${seconds / 3600} h` : seconds % 60 === 0 ? `${seconds / 60} min` : `${seconds} s`;
  }

  const count = (v) => (Number.isInteger(v) ? String(v) : String(Math.round(v * 100) / 100));
  const ms = (v) => (v >= 1000 ? `${(v / 1000).toFixed(1)} s` : `${Math.round(v)} ms`);
  const usd = (v) => (v === 0 ? "$0" : v < 0.01 ? `$${Number(v.toPrecision(2))}` : `$${v.toFixed(2)}`);
  const decimal = (text) => (text.includes(".") ? text.replace(/\.?0+$/, "") : text);
  // null: calls in flight, or (time to first token) no call streamed
  const latency = (v) => (v === null ? "-" : String(Math.round(v)));

  function render(data) {
    $("#login").hidden = true;
    $("#board").hidden = false;
    $("#logout").hidden = false;
    $("#scope").textContent = data.scope;
    document.querySelectorAll(".bucket").forEach((node) => { node.textContent = duration(data.bucket_s); });
    drawQueues(data);
    drawThroughput(data);
    drawModels(data);
    fillModelTable(data.models);
    fillFailures(data.failures);
    fillBudgetAlerts(data.budget_alerts);
    setStatus("updated " + new Date(data.now * 1000).toLocaleTimeString());
    document.body.dataset.ready = "true";
  }

  function drawQueues(data) {
    charts.barChart($('[data-chart="queues"]'), {
      labels: data.queues.map((q) => q.tenant),
      series: [
        { name: "waiting (Redis messages)", values: data.queues.map((q) => q.waiting) },
        { name: "running", values: data.queues.map((q) => q.running) },
      ],
      showZero: true,
      minMax: 5,
      emptyText: "no queued or running work",
      labelFormat: (label) => label,
      yFormat: count,
    });
  }

  function drawThroughput(data) {
    const points = data.throughput;
    charts.barChart($('[data-chart="throughput"]'), {
      labels: points.map((p) => p.t),
      series: [
        { name: "succeeded", values: points.map((p) => p.succeeded), color: "#2f9e6e" },
        { name: "failed", values: points.map((p) => p.failed), color: "#c62f3b" },
        { name: "cancelled or expired", values: points.map((p) => p.other), color: "#9aa3b5" },
      ],
      minMax: 5,
      emptyText: "no job finished in this window",
      labelFormat: charts.clock,
      yFormat: count,
    });
  }

  function drawModels(data) {
    const range = { from: data.since, to: data.now };
    // A bucket whose calls are all in flight has no latency yet (null): no point.
    const series = (field) => data.models.map((m) => ({
      name: m.model, points: m.points.filter((p) => p[field] !== null).map((p) => [p.t, p[field]]),
    }));
    charts.lineChart($('[data-chart="latency"]'), Object.assign({ series: series("p50_ms"), yFormat: ms }, range));
    charts.lineChart($('[data-chart="first-token"]'), Object.assign(
      { series: series("first_token_p50_ms"), yFormat: ms, emptyText: "no streamed call in this window" }, range));
    charts.lineChart($('[data-chart="cost"]'), Object.assign({ series: series("cost_usd"), yFormat: usd }, range));
  }

  function row(cells) {
    const tr = document.createElement("tr");
    cells.forEach(([content, className]) => {
      const td = document.createElement("td");
      td.textContent = content;
      if (className) td.className = className;
      tr.appendChild(td);
    });
    return tr;
  }

  function fillTable(selector, rows, emptyText, columns) {
    const body = $(selector + " tbody");
    body.replaceChildren(...rows);
    if (!rows.length) body.appendChild(row([[emptyText, "muted"]])).firstChild.colSpan = columns;
  }

  function fillModelTable(models) {
    const rows = models.map((m) => row([
      [m.model], [String(m.attempts), "num"], [String(m.failed), "num"],
      [latency(m.p50_ms), "num"], [latency(m.p95_ms), "num"], [latency(m.first_token_p50_ms), "num"],
      [decimal(m.cost_usd), "num"],
    ]));
    fillTable("#models", rows, "no attempt in this window", 7);
  }

  function fillFailures(failures) {
    const rows = failures.map((f) => row([
      [f.finished_at ? new Date(f.finished_at).toLocaleTimeString() : "-"], [f.tenant], [f.model || "-"],
      [f.error_code || "-"], [f.error_message || "", "message"], [f.job_id.slice(0, 8)],
    ]));
    fillTable("#failures", rows, "no failed job in this window", 6);
  }

  function fillBudgetAlerts(alerts) {
    const rows = alerts.map((a) => {
      const tr = row([
        [new Date(a.fired_at).toLocaleString()], [a.tenant], [a.period],
        [a.threshold_percent + "%", "num"], [decimal(a.spent_usd), "num"], [decimal(a.budget_usd), "num"],
      ]);
      // The mark: a spent budget stands out from an early warning.
      tr.className = a.threshold_percent >= 100 ? "budget-spent" : "budget-warning";
      return tr;
    });
    fillTable("#budget-alerts", rows, "no budget threshold reached", 6);
  }

  function start() {
    takeTokenFromFragment();
    $("#login-form").addEventListener("submit", (event) => {
      event.preventDefault();
      sessionStorage.setItem(TOKEN_KEY, $("#token").value.trim());
      $("#token").value = "";
      load();
    });
    $("#logout").addEventListener("click", () => {
      sessionStorage.removeItem(TOKEN_KEY);
      showLogin("");
    });
    $("#window").addEventListener("change", load);
    load();
  }

  start();
})();
