// Small SVG charts drawn by hand: grouped bars (p50/p90 minutes, share on time) and a line over time.
import { duration, el } from "./format.js";

const NS = "http://www.w3.org/2000/svg";

function svg(tag, attrs = {}, ...children) {
  const node = document.createElementNS(NS, tag);
  for (const [key, value] of Object.entries(attrs)) node.setAttribute(key, String(value));
  for (const child of children) node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  return node;
}

function legend(items) {
  return el("div", { class: "legend", "aria-hidden": "true" },
    items.map(([cls, text]) => el("span", {}, el("i", { class: cls }), text)));
}

/**
 * Turnaround per group: p50 and p90 bars (left axis, minutes) and the share on time (a bar scaled to 100 %).
 * `groups` are the API's figures ({key, count, p50_s, p90_s, within_target}). A table carries the same numbers.
 */
export function turnaroundChart(groups, { label }) {
  if (!groups.length) return el("p", { class: "empty", text: "No resulted specimens in the last 24 h." });
  const width = 640, height = 220, left = 44, bottom = 36, top = 10, right = 10;
  const plotW = width - left - right, plotH = height - top - bottom;
  const maxS = Math.max(60, ...groups.map((g) => g.p90_s ?? 0));
  const step = plotW / groups.length, bar = Math.max(3, Math.min(22, step / 4));
  const y = (s) => top + plotH - (s / maxS) * plotH;
  const chart = svg("svg", { class: "chart", viewBox: `0 0 ${width} ${height}`, role: "img", "aria-label": label });
  chart.append(svg("line", { class: "axis", x1: left, x2: width - right, y1: top + plotH, y2: top + plotH }));
  for (const fraction of [0, 0.5, 1]) {
    chart.append(svg("text", { x: left - 4, y: y(maxS * fraction) + 4, "text-anchor": "end" }, duration(maxS * fraction).replace(/ \d+ s$/, "")));
  }
  groups.forEach((g, i) => {
    const x0 = left + i * step + step / 2 - (3 * bar) / 2;
    const bars = [["p50", g.p50_s ?? 0, plotH * ((g.p50_s ?? 0) / maxS)], ["p90", g.p90_s ?? 0, plotH * ((g.p90_s ?? 0) / maxS)],
      ["share", g.within_target ?? 0, plotH * (g.within_target ?? 0)]];
    bars.forEach(([cls, , h], j) => chart.append(svg("rect", { class: cls, x: x0 + j * bar, y: top + plotH - h, width: bar - 1, height: Math.max(h, 0) })));
    chart.append(svg("text", { x: left + i * step + step / 2, y: height - bottom + 14, "text-anchor": "middle" }, g.key ?? "all"));
    chart.append(svg("text", { x: left + i * step + step / 2, y: height - bottom + 28, "text-anchor": "middle" }, `n=${g.count}`));
  });
  const rows = groups.map((g) =>
    el("tr", {}, el("th", { scope: "row", text: g.key ?? "all" }), el("td", { class: "num", text: g.count }),
      el("td", { class: "num", text: duration(g.p50_s) }), el("td", { class: "num", text: duration(g.p90_s) }),
      el("td", { class: "num", text: g.within_target === null ? "—" : `${Math.round(g.within_target * 100)} %` })));
  const details = el("details", {}, el("summary", { text: "Figures as a table" }),
    el("table", {}, el("thead", {}, el("tr", {}, ["Group", "Resulted", "p50", "p90", "On time"].map((h) => el("th", { scope: "col", text: h })))),
      el("tbody", {}, rows)));
  return el("div", {}, legend([["p50", "p50"], ["p90", "p90"], ["share", "share on time (full height = 100 %)"]]), chart, details);
}

/** A line of `points` ({at, value}) over time with optional dashed limits (e.g. a fridge's 2-8 °C). */
export function lineChart(points, { label, unit = "", limits = [] }) {
  if (!points.length) return el("p", { class: "empty", text: "No readings yet." });
  const width = 640, height = 180, left = 44, bottom = 24, top = 10, right = 10;
  const times = points.map((p) => Date.parse(p.at));
  const values = points.map((p) => p.value);
  const lo = Math.min(...values, ...limits) - 0.5, hi = Math.max(...values, ...limits) + 0.5;
  const t0 = Math.min(...times), t1 = Math.max(...times, t0 + 1);
  const x = (t) => left + ((t - t0) / (t1 - t0)) * (width - left - right);
  const y = (v) => top + (1 - (v - lo) / (hi - lo)) * (height - top - bottom);
  const chart = svg("svg", { class: "chart", viewBox: `0 0 ${width} ${height}`, role: "img", "aria-label": label });
  chart.append(svg("line", { class: "axis", x1: left, x2: width - right, y1: height - bottom, y2: height - bottom }));
  for (const v of [lo + 0.5, hi - 0.5]) chart.append(svg("text", { x: left - 4, y: y(v) + 4, "text-anchor": "end" }, `${v.toFixed(1)}${unit}`));
  for (const limit of limits) chart.append(svg("line", { class: "limit", x1: left, x2: width - right, y1: y(limit), y2: y(limit) }));
  const d = points.map((p, i) => `${i ? "L" : "M"}${x(times[i]).toFixed(1)},${y(p.value).toFixed(1)}`).join(" ");
  chart.append(svg("path", { class: "line", d }));
  const when = (t) => new Date(t).toISOString().slice(11, 16);
  chart.append(svg("text", { x: left, y: height - 6 }, when(t0)));
  chart.append(svg("text", { x: width - right, y: height - 6, "text-anchor": "end" }, `${when(t1)} UTC`));
  return chart;
}
