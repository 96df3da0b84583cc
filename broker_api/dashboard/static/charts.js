// Small SVG charts for the dashboard: no library, no build step, no network.
// Every text goes in through textContent, never innerHTML: labels come from data.
(function () {
  "use strict";

  const SVG = "http://www.w3.org/2000/svg";
  const WIDTH = 640;
  const HEIGHT = 190;
  const MARGIN = { left: 64, right: 12, top: 10, bottom: 24 };
  const PALETTE = ["#3563e9", "#e8863a", "#2f9e6e", "#c62f3b", "#8a5cd1",
    "#1fa3b8", "#b5892a", "#d15c9b", "#5b6b82", "#6fb03a"];

  function el(name, attributes, parent) {
    const node = document.createElementNS(SVG, name);
    for (const [key, value] of Object.entries(attributes || {})) {
      node.setAttribute(key, String(value));
    }
    if (parent) parent.appendChild(node);
    return node;
  }

  function text(parent, x, y, content, attributes) {
    const node = el("text", Object.assign({ x: x, y: y }, attributes), parent);
    node.textContent = content;
    return node;
  }

  function tooltip(node, content) {
    el("title", {}, node).textContent = content;
  }

  // A round upper bound for the y axis: 1, 2 or 5 times a power of ten.
  function niceMax(value, floor) {
    value = Math.max(value, floor || 0);
    if (!(value > 0)) return 1;
    const power = Math.pow(10, Math.floor(Math.log10(value)));
    for (const step of [1, 2, 5, 10]) {
      if (step * power >= value) return step * power;
    }
    return 10 * power;
  }

  function frame(container, yMax, yFormat) {
    container.replaceChildren();
    const svg = el("svg", { viewBox: `0 0 ${WIDTH} ${HEIGHT}`, role: "img" }, container);
    const plot = {
      x0: MARGIN.left, x1: WIDTH - MARGIN.right,
      y0: HEIGHT - MARGIN.bottom, y1: MARGIN.top,
    };
    plot.y = (value) => plot.y0 - (value / yMax) * (plot.y0 - plot.y1);
    for (let i = 0; i <= 5; i += 1) {
      const value = (yMax * i) / 5;
      const y = plot.y(value);
      el("line", { x1: plot.x0, x2: plot.x1, y1: y, y2: y, class: "axis" }, svg);
      text(svg, plot.x0 - 6, y + 4, yFormat(value), { "text-anchor": "end" });
    }
    return { svg: svg, plot: plot };
  }

  function empty(container, message) {
    container.replaceChildren();
    const svg = el("svg", { viewBox: `0 0 ${WIDTH} 60` }, container);
    text(svg, WIDTH / 2, 34, message, { "text-anchor": "middle", class: "empty" });
    container.dataset.points = "0";
  }

  function legend(container, series) {
    const box = document.createElement("div");
    box.className = "legend";
    series.forEach((s) => {
      const item = document.createElement("span");
      const swatch = document.createElement("i");
      swatch.style.background = s.color;
      item.append(swatch, s.name);
      box.appendChild(item);
    });
    container.appendChild(box);
  }

  function colored(series) {
    return series.map((s, i) => Object.assign({ color: PALETTE[i % PALETTE.length] }, s));
  }

  function clock(t) {
    return new Date(t * 1000).toTimeString().slice(0, 5);
  }

  function timeAxis(svg, plot, xOf, from, to) {
    const ticks = 6;
    for (let i = 0; i <= ticks; i += 1) {
      const t = from + ((to - from) * i) / ticks;
      const anchor = i === 0 ? "start" : i === ticks ? "end" : "middle"; // stay inside
      text(svg, xOf(t), plot.y0 + 16, clock(t), { "text-anchor": anchor });
    }
  }

  // Lines over time: options.series = [{name, points: [[t, y], ...]}];
  // options.from/to bound the time axis (unix seconds).
  function lineChart(container, options) {
    const series = colored(options.series.filter((s) => s.points.length));
    const count = series.reduce((n, s) => n + s.points.length, 0);
    if (!count) return empty(container, options.emptyText || "no data in this window");
    const yMax = niceMax(Math.max(...series.flatMap((s) => s.points.map((p) => p[1]))));
    const { svg, plot } = frame(container, yMax, options.yFormat);
    const span = Math.max(1, options.to - options.from);
    const xOf = (t) => plot.x0 + ((t - options.from) / span) * (plot.x1 - plot.x0);
    timeAxis(svg, plot, xOf, options.from, options.to);
    series.forEach((s) => {
      const d = s.points.map((p, i) => `${i ? "L" : "M"}${xOf(p[0]).toFixed(1)},${plot.y(p[1]).toFixed(1)}`);
      el("path", { d: d.join(" "), fill: "none", stroke: s.color, "stroke-width": 2 }, svg);
      s.points.forEach((p) => {
        const dot = el("circle", { cx: xOf(p[0]), cy: plot.y(p[1]), r: 2.5, fill: s.color }, svg);
        tooltip(dot, `${s.name} ${clock(p[0])}: ${options.yFormat(p[1])}`);
      });
    });
    legend(container, series);
    container.dataset.points = String(count);
  }

  // Stacked bars, one bar per category (a time bucket or a name):
  // options.labels = [...], options.series = [{name, values: [...]}] aligned to labels;
// options.minMax keeps small counts on whole-number ticks (5 gives 0, 1, ... 5).
  function barChart(container, options) {
    const series = colored(options.series);
    const labels = options.labels;
    const totals = labels.map((_, i) => series.reduce((n, s) => n + (s.values[i] || 0), 0));
    const count = totals.filter((v) => v > 0).length;
    if (!labels.length || (!count && !options.showZero)) {
      return empty(container, options.emptyText || "no data in this window");
    }
    const yMax = niceMax(Math.max(...totals), options.minMax);
    const { svg, plot } = frame(container, yMax, options.yFormat);
    const slot = (plot.x1 - plot.x0) / labels.length;
    const width = Math.max(1, Math.min(slot * 0.8, 60));
    labels.forEach((label, i) => {
      const x = plot.x0 + slot * i + (slot - width) / 2;
      let base = 0;
      series.forEach((s) => {
        const value = s.values[i] || 0;
        const top = plot.y(base + value);
        const bar = el("rect", {
          x: x, y: top, width: width, height: Math.max(0, plot.y(base) - top), fill: s.color,
        }, svg);
        tooltip(bar, `${options.labelFormat(label)} ${s.name}: ${options.yFormat(value)}`);
        base += value;
      });
    });
    labelAxis(svg, plot, labels, slot, options);
    legend(container, series);
    container.dataset.points = String(count);
  }

  function labelAxis(svg, plot, labels, slot, options) {
    const every = Math.max(1, Math.ceil(labels.length / 8)); // at most 8 labels fit
    labels.forEach((label, i) => {
      if (i % every) return;
      const x = plot.x0 + slot * i + slot / 2;
      text(svg, x, plot.y0 + 16, options.labelFormat(label), { "text-anchor": "middle" });
    });
  }

  window.HelixCharts = { lineChart: lineChart, barChart: barChart, clock: clock };
})();
