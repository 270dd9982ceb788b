// The lab's board: specimens that need attention (overdue, at risk, in the error lane, in transit), most urgent
// first, filtered by priority, ward and status; the filters live in the page's URL, so a reload or a shared link
// keeps them.
import { getJson } from "./api.js";
import { el, fill, named, table, timeEl } from "./format.js";
import { t } from "./i18n.js";
import { keepingFocus } from "./render.js";
import { PRIORITIES, STATUSES, heldBy, heldReason, outlookBadge, priorityText, slackText, statusText, whereNow } from "./lab_place.js";

const BOARD_ROWS = 30;
const FILTERS = ["priority", "ward", "status"];
const URGENCY = { overdue: 0, at_risk: 1, error_lane: 2, held: 3, tight: 4, on_track: 5, untargeted: 6 };
const wardsSeen = new Map(); // ward id → name, from every answer so far: the ward filter's choices

/** The board's filters as the URL has them (unknown values dropped). */
export function boardFilters() {
  const query = new URLSearchParams(location.search);
  const chosen = {};
  for (const name of FILTERS) {
    const value = query.get(name);
    if (value) chosen[name] = value;
  }
  if (chosen.priority && !PRIORITIES.includes(chosen.priority)) delete chosen.priority;
  if (chosen.status && !STATUSES.includes(chosen.status)) delete chosen.status;
  return chosen;
}

function keepInUrl(chosen) {
  const query = new URLSearchParams(location.search);
  for (const name of FILTERS) {
    if (chosen[name]) query.set(name, chosen[name]);
    else query.delete(name);
  }
  const search = query.toString();
  history.replaceState(null, "", `${location.pathname}${search ? `?${search}` : ""}${location.hash}`);
}

/** Overdue, at risk, then the error lane (someone must fetch the tube), held by a fault, tight, on track. */
const urgency = (s) => Math.min(URGENCY[s.outlook.state] ?? 7, s.status === "rejected" ? URGENCY.error_lane : 7,
  heldReason(s.held) ? URGENCY.held : 7);

function boardRow(s) {
  const state = heldReason(s.held) ? "held" : s.outlook.state;
  return el("tr", { "data-barcode": s.barcode, "data-state": state },
    el("td", {}, el("a", { href: `/lab/specimens/${encodeURIComponent(s.barcode)}`, "data-key": `board:${s.barcode}`, class: "code", text: s.barcode })),
    el("td", {}, outlookBadge(s)),
    el("td", { class: `num slack ${state}`, text: slackText(s.outlook.slack_s) }),
    el("td", { class: `priority ${s.priority ?? ""}`, text: priorityText(s.priority) }),
    el("td", {}, whereNow(s)),
    el("td", {}, named(s.ward, s.ward_name)),
    el("td", {}, timeEl(s.due_at)),
    el("td", { text: statusText(s.status) }),
    el("td", {}, heldBy(s)));
}

/** A list's total as people read it: "10000+" when the gateway stopped counting, "~" for its estimate. */
function howMany(list) {
  if (list.total_capped) return `${list.count}+`;
  return list.total_is_estimate ? `~${list.count}` : `${list.count}`;
}

function option(value, text, chosen) {
  return el("option", { value, selected: value === (chosen ?? "") }, text);
}

function renderFilters(form, chosen, onChange) {
  const any = t("lab.filter.any");
  const wards = [...wardsSeen.entries()].sort((a, b) => String(a[1] ?? a[0]).localeCompare(String(b[1] ?? b[0])));
  if (chosen.ward && !wardsSeen.has(chosen.ward)) wards.unshift([chosen.ward, null]);
  const select = (name, choices) => el("div", { class: "filter" },
    el("label", { for: `filter-${name}`, text: t(`lab.filter.${name}`) }),
    el("select", { id: `filter-${name}`, name, "data-key": `filter:${name}`, onchange: onChange },
      option("", any, chosen[name]), choices.map(([value, text]) => option(value, text, chosen[name]))));
  const clear = el("button", { type: "button", class: "secondary", "data-key": "filter:clear", onclick: () => onChange(null), disabled: !Object.keys(chosen).length }, t("lab.filter.clear"));
  keepingFocus(form, () => form.replaceChildren(
    select("priority", PRIORITIES.map((p) => [p, priorityText(p)])),
    select("ward", wards.map(([id, name]) => [id, name ?? id])),
    select("status", STATUSES.map((s) => [s, statusText(s)])),
    clear));
}

/** The board: `load()` (re)reads and redraws it; a change of filter calls `refresh` (the page's coalesced reload). */
export function board(refresh) {
  const container = document.getElementById("board");
  const form = document.getElementById("board-filters");
  let chosen = boardFilters();
  let shownFilters = null; // what the filter form was drawn for: redrawn only when that changes (an open list stays open)

  function choose(event) {
    chosen = event === null ? {} : { ...chosen, [event.target.name]: event.target.value };
    for (const key of Object.keys(chosen)) if (!chosen[key]) delete chosen[key];
    keepInUrl(chosen);
    drawFilters();
    if (event === null) document.getElementById("filter-priority")?.focus();
    refresh();
  }

  function drawFilters() {
    const signature = JSON.stringify([chosen, [...wardsSeen.entries()]]);
    if (signature === shownFilters) return;
    shownFilters = signature;
    renderFilters(form, chosen, choose);
  }

  async function load() {
    const lists = { overdue: { overdue: "true" }, at_risk: { at_risk: "true" }, held: { held: "true", open: "true" } };
    const others = chosen.status ? { [chosen.status]: { status: chosen.status } } : { in_transit: { status: "in_transit" }, rejected: { status: "rejected" } };
    const asked = { ...lists, ...others };
    const names = Object.keys(asked);
    const answers = await Promise.all(names.map((name) => getJson("/api/v1/specimens", { sort: "due", limit: "100", ...chosen, ...asked[name] })));
    const byBarcode = new Map();
    for (const list of answers) {
      for (const s of list.data) {
        byBarcode.set(s.barcode, s);
        if (s.ward) wardsSeen.set(s.ward, s.ward_name ?? wardsSeen.get(s.ward) ?? null);
      }
    }
    const urgent = [...byBarcode.values()].sort((a, b) => urgency(a) - urgency(b) ||
      (a.outlook.slack_s ?? Infinity) - (b.outlook.slack_s ?? Infinity) || String(a.due_at).localeCompare(String(b.due_at)));
    const counts = names.map((name, i) => t(`lab.board.count.${name}`, { count: howMany(answers[i]) })).join(" · ");
    const summary = el("p", { id: "board-summary" }, counts, urgent.length > BOARD_ROWS ? ` · ${t("lab.board.more", { count: BOARD_ROWS })}` : "");
    const headers = ["barcode", "outlook", "slack", "priority", "where", "ward", "due", "status", "held_by"].map((key) =>
      (key === "slack" ? { text: t("lab.col.slack"), num: true } : t(`lab.col.${key}`)));
    const rows = urgent.slice(0, BOARD_ROWS).map(boardRow);
    const empty = el("p", { class: "empty", text: Object.keys(chosen).length ? t("lab.board.empty_filtered") : t("lab.board.empty") });
    drawFilters();
    keepingFocus(container, () => fill(container, [summary, rows.length ? table(headers, rows, { caption: t("lab.board.caption") }) : empty]));
  }

  drawFilters();
  return load;
}
