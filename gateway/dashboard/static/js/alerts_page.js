// The alert history (/alerts): every alert the viewer may see, filtered by state, kind, severity, ward, time range
// and audience (mine or everyone's), a page at a time ("more" follows the API's cursor), each with who acknowledged
// it and their note. The filters are kept in the address, so a filtered view can be shared.
import { getJson } from "./api.js";
import { onAlerts } from "./alert_feed.js";
import { alertTitle, isFor } from "./alert_text.js";
import { acknowledgement, alertAbout, alertMarks } from "./alerts_inbox.js";
import { coalesce, el, table, timeEl } from "./format.js";
import { has, t } from "./i18n.js";
import { replaceKeepingFocus } from "./render.js";
import { instantIn } from "./time.js";

const PAGE = new URLSearchParams(location.search).get("limit") || "50"; // ?limit= for a shorter page
const role = document.body.dataset.role;
const form = document.getElementById("alert-filters");
const list = document.getElementById("history");
const more = document.getElementById("history-more");
const counter = document.getElementById("history-count");
const FIELDS = ["audience", "state", "kind", "severity", "ward", "since", "until"];

const kindPick = form.elements.kind;
for (const kind of (document.body.dataset.kinds || "").split(",").filter(Boolean)) {
  kindPick.append(el("option", { value: kind, text: has(`alerts.kind_name.${kind}`) ? t(`alerts.kind_name.${kind}`) : kind }));
}
const given = new URLSearchParams(location.search);
for (const name of FIELDS) if (given.get(name)) form.elements[name].value = given.get(name);

let rows = [];
let cursor = null;

/** The API's query for the filters as they stand (times typed in the hospital's zone). */
function query() {
  const values = Object.fromEntries(FIELDS.map((name) => [name, form.elements[name].value.trim()]));
  const params = { limit: PAGE };
  if (values.audience === "all") params.audience = "all";
  for (const name of ["state", "kind", "severity", "ward"]) if (values[name]) params[name] = values[name];
  for (const name of ["since", "until"]) if (values[name]) params[name] = instantIn(values[name]);
  return { values, params };
}

function row(a) {
  return el("tr", { "data-key": `alert-${a.id}`, "data-alert": a.id, "data-kind": a.kind, "data-severity": a.severity },
    el("td", {}, alertMarks(a)),
    el("td", {}, el("span", { class: "title", text: alertTitle(a) })),
    el("td", {}, alertAbout(a)),
    el("td", {}, timeEl(a.raised_at, { site: a.site })),
    el("td", {}, a.cleared_at ? timeEl(a.cleared_at, { site: a.site }) : t("alerts.history.active")),
    el("td", {}, acknowledgement(a) ?? t("alerts.history.not_acknowledged")));
}

function render(count) {
  const headers = [t("alerts.col.severity"), t("alerts.col.alert"), t("alerts.col.about"), t("alerts.col.raised"), t("alerts.col.cleared"), t("alerts.col.acknowledged")];
  replaceKeepingFocus(list, rows.length ? [table(headers, rows.map(row), { caption: t("alerts.history.list") })] : [], t("alerts.history.none"));
  counter.textContent = t("alerts.history.count", { shown: rows.length, n: count });
  more.hidden = !cursor;
}

/** Read the first page (`next` false) or the page after the last one read. */
async function load(next = false) {
  const { values, params } = query();
  if (next && cursor) params.cursor = cursor;
  const answer = await getJson("/api/v1/alerts", params);
  // Older gateways answer every role's alerts whatever the audience: keep the viewer's when they asked for theirs.
  const found = values.audience === "all" ? answer.data : answer.data.filter((a) => isFor(a, role));
  rows = next ? [...rows, ...found] : found;
  cursor = answer.next_cursor ?? null;
  render(answer.count);
}

const problem = (error) => replaceKeepingFocus(list, [el("p", { class: "problem", role: "alert", text: error.message })]);
form.addEventListener("submit", (event) => {
  event.preventDefault();
  const { values } = query();
  const shown = new URLSearchParams(Object.entries(values).filter(([name, v]) => v && !(name === "audience" && v === "mine")));
  history.replaceState(null, "", shown.size ? `?${shown}` : location.pathname);
  load().catch(problem);
});
more.addEventListener("click", () => load(true).catch(problem));

// Live: a change re-reads the first page, unless the person has paged further (then their place is kept).
const refresh = coalesce(() => (rows.length > Number(PAGE) ? Promise.resolve() : load().catch(problem)), 500);
load().catch(problem);
onAlerts({ onOpen: refresh, onChange: refresh }, { indicate: true });
