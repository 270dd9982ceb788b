// Charts people can read: turnaround against its targets, and a fridge's temperature against its 2-8 °C band.
// Hand-drawn SVG with round ticks, target lines and a title/description; each comes with its figures as a table.
import { frame, niceTicks, svg } from "./chart_axes.js";
import { clock, duration, el } from "./format.js";
import { t } from "./i18n.js";

const percent = (share) => (share === null || share === undefined ? "—" : `${Math.round(share * 100)} %`);
const minutes = (s) => (s === null || s === undefined ? null : s / 60);

function legend(items) {
  return el("div", { class: "legend", "aria-hidden": "true" },
    items.map(([cls, text]) => el("span", {}, el("i", { class: cls }), text)));
}

function figuresTable(groups, groupName) {
  const rows = groups.map((g) =>
    el("tr", {}, el("th", { scope: "row", text: groupName(g) }), el("td", { class: "num", text: g.count }),
      el("td", { class: "num", text: duration(g.p50_s) }), el("td", { class: "num", text: duration(g.p90_s) }),
      el("td", { class: "num", text: duration(g.target_s) }), el("td", { class: "num", text: percent(g.within_target) })));
  const headers = ["charts.col.group", "charts.col.resulted", "charts.col.p50", "charts.col.p90", "charts.col.target", "charts.col.on_time"];
  return el("details", {}, el("summary", { text: t("charts.table.summary") }),
    el("div", { class: "scroll" }, el("table", {},
      el("thead", {}, el("tr", {}, headers.map((key, i) => el("th", { scope: "col", class: i ? "num" : null, text: t(key) })))),
      el("tbody", {}, rows))));
}

/**
 * Turnaround per group (the API's figures: {key, count, p50_s, p90_s, target_s, within_target}): p50 and p90 bars
 * on the left axis in minutes, each group's target as a dashed line across its bars; the share on time as a dot on
 * its own right axis (percent), with the lab's goal (`goal`, 0-1) as a dashed line. `groupName(g)` labels a group.
 */
export function turnaroundChart(groups, { title, goal = null, groupName = (g) => g.key ?? t("charts.group.all") }) {
  if (!groups.length) return el("p", { class: "empty", text: t("charts.empty.turnaround") });
  const width = 640, height = 250, left = 48, right = 48, top = 16, bottom = 40;
  const plotW = width - left - right, plotH = height - top - bottom;
  // The scale fits the bars; a target far above them (routine's 4 h beside STAT's 30 min) is written at the top
  // with an arrow instead of squashing every bar to the bottom.
  const tallest = Math.max(10, ...groups.map((g) => minutes(g.p90_s) ?? 0));
  const onScale = (g) => g.target_s && minutes(g.target_s) <= tallest * 2;
  const highest = Math.max(tallest, ...groups.filter(onScale).map((g) => minutes(g.target_s)));
  const ticks = niceTicks(0, highest);
  const maxM = ticks[ticks.length - 1];
  const y = (m) => top + plotH - (m / maxM) * plotH;
  const yShare = (share) => top + plotH - share * plotH;
  const step = plotW / groups.length, bar = Math.max(4, Math.min(24, step / 3));
  const described = groups.map((g) => t("charts.summary", { group: groupName(g), p50: duration(g.p50_s), p90: duration(g.p90_s),
    target: duration(g.target_s), on_time: percent(g.within_target) })).join("; ");
  const chart = frame(width, height, "chart turnaround", title, described);
  for (const m of ticks) {
    chart.append(svg("line", { class: "grid", x1: left, x2: width - right, y1: y(m), y2: y(m) }));
    chart.append(svg("text", { class: "tick", x: left - 6, y: y(m) + 4, "text-anchor": "end" }, m));
  }
  for (const p of [0, 20, 40, 60, 80, 100]) {
    chart.append(svg("text", { class: "tick share-tick", x: width - right + 6, y: yShare(p / 100) + 4 }, `${p} %`));
  }
  chart.append(svg("text", { class: "axis-title", x: 4, y: 10 }, t("charts.axis.minutes")));
  chart.append(svg("text", { class: "axis-title share-tick", x: width - 4, y: 10, "text-anchor": "end" }, t("charts.axis.on_time")));
  chart.append(svg("line", { class: "axis", x1: left, x2: width - right, y1: top + plotH, y2: top + plotH }));
  const crowded = groups.length > 8;
  groups.forEach((g, i) => {
    const middle = left + i * step + step / 2;
    const x0 = middle - bar;
    for (const [j, cls, s] of [[0, "p50", g.p50_s], [1, "p90", g.p90_s]]) {
      const m = minutes(s) ?? 0;
      chart.append(svg("rect", { class: cls, x: x0 + j * bar, y: y(m), width: bar - 1, height: Math.max(top + plotH - y(m), 0) }));
    }
    if (g.target_s) {
      const above = !onScale(g);
      const ty = above ? top : y(minutes(g.target_s));
      const x1 = middle - step / 2 + 4;
      chart.append(svg("line", { class: `target${above ? " off-scale" : ""}`, x1, x2: middle + step / 2 - 4, y1: ty, y2: ty, "data-minutes": minutes(g.target_s) }));
      const label = t("charts.target", { duration: duration(g.target_s) });
      chart.append(svg("text", { class: "target-label", x: x1, y: ty - 4 }, above ? `${label} ↑` : label));
    }
    if (g.within_target !== null && g.within_target !== undefined) {
      const sy = yShare(g.within_target);
      chart.append(svg("circle", { class: "share", cx: middle + bar + 6, cy: sy, r: 4.5 }));
      if (!crowded) chart.append(svg("text", { class: "share-label", x: middle + bar + 12, y: sy + 4 }, percent(g.within_target)));
    }
    if (!crowded || i % 3 === 0) chart.append(svg("text", { class: "tick", x: middle, y: height - bottom + 15, "text-anchor": "middle" }, groupName(g)));
    if (!crowded) chart.append(svg("text", { class: "count", x: middle, y: height - bottom + 29, "text-anchor": "middle" }, t("charts.n", { count: g.count })));
  });
  if (goal !== null) {
    const gy = yShare(goal);
    chart.append(svg("line", { class: "goal", x1: left, x2: width - right, y1: gy, y2: gy }));
    chart.append(svg("text", { class: "goal-label", x: left + 4, y: gy + 13 }, t("charts.goal", { share: percent(goal) })));
  }
  return el("div", { class: "chart-box" },
    legend([["p50", t("charts.legend.p50")], ["p90", t("charts.legend.p90")], ["target", t("charts.legend.target")], ["share", t("charts.legend.share")]]),
    chart, figuresTable(groups, groupName));
}

function timeTicks(t0, t1) {
  const hour = 3600 * 1000;
  const spanH = (t1 - t0) / hour;
  const stepH = [1, 2, 3, 6, 12, 24].find((h) => spanH / h <= 6) ?? 24;
  const ticks = [];
  for (let at = Math.ceil(t0 / (stepH * hour)) * stepH * hour; at <= t1; at += stepH * hour) ticks.push(at);
  return ticks;
}

/**
 * A fridge's temperature over time (`samples`: {at, value}) with its allowed band [min, max] shaded and labelled,
 * round degree ticks, and the current temperature marked and written at the right (`current`, else the latest).
 */
export function temperatureChart(samples, { min = null, max = null, current = null, title = t("charts.temperature.title") } = {}) {
  if (!samples.length) return el("p", { class: "empty", text: t("charts.empty.readings") });
  const width = 640, height = 200, left = 44, right = 92, top = 12, bottom = 26;
  const times = samples.map((p) => Date.parse(p.at));
  const values = samples.map((p) => p.value);
  const now = current ?? values[values.length - 1];
  const bounds = [...values, ...[min, max].filter((v) => v !== null)];
  const ticks = niceTicks(Math.min(...bounds) - 0.5, Math.max(...bounds) + 0.5, 6);
  const lo = ticks[0], hi = ticks[ticks.length - 1];
  const t0 = Math.min(...times), t1 = Math.max(...times, t0 + 60000);
  const x = (at) => left + ((at - t0) / (t1 - t0)) * (width - left - right);
  const y = (v) => top + (1 - (v - lo) / (hi - lo)) * (height - top - bottom);
  const outside = min === null || max === null ? 0 : values.filter((v) => v < min || v > max).length;
  const description = t("charts.temperature.desc", { lo: Math.min(...values).toFixed(1), hi: Math.max(...values).toFixed(1),
    count: values.length, current: now.toFixed(1), min: min ?? "—", max: max ?? "—", outside });
  const chart = frame(width, height, "chart temperature", title, description);
  if (min !== null && max !== null) {
    chart.append(svg("rect", { class: "band", x: left, y: y(max), width: width - left - right, height: y(min) - y(max) }));
    chart.append(svg("text", { class: "band-label", x: left + 6, y: y(max) + 14 }, t("charts.temperature.band", { min, max })));
  }
  for (const v of ticks) {
    chart.append(svg("line", { class: "grid", x1: left, x2: width - right, y1: y(v), y2: y(v) }));
    chart.append(svg("text", { class: "tick", x: left - 6, y: y(v) + 4, "text-anchor": "end" }, `${v} °C`));
  }
  for (const at of timeTicks(t0, t1)) {
    chart.append(svg("text", { class: "tick", x: x(at), y: height - 8, "text-anchor": "middle" }, clock(new Date(at).toISOString(), { seconds: false })));
  }
  chart.append(svg("line", { class: "axis", x1: left, x2: width - right, y1: height - bottom, y2: height - bottom }));
  const d = samples.map((p, i) => `${i ? "L" : "M"}${x(times[i]).toFixed(1)},${y(p.value).toFixed(1)}`).join(" ");
  chart.append(svg("path", { class: "line", d }));
  const warm = min !== null && max !== null && (now < min || now > max);
  const lastX = x(times[times.length - 1]), nowY = y(now);
  chart.append(svg("circle", { class: `current${warm ? " outside" : ""}`, cx: lastX, cy: nowY, r: 5 }));
  chart.append(svg("text", { class: `current-label${warm ? " outside" : ""}`, x: width - right + 8, y: nowY + 4 }, t("charts.temperature.now", { value: now.toFixed(1) })));
  return chart;
}

/** A reading over time with optional limits: a temperature chart whose band is the two limits (older callers). */
export function lineChart(points, { label, limits = [] }) {
  const [min, max] = limits.length === 2 ? [...limits].sort((a, b) => a - b) : [null, null];
  return temperatureChart(points, { min, max, title: label });
}
