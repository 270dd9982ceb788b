// Administration · audit trail: who did what, when, from where, with what outcome; filtered by who, action,
// outcome and time (the reader's local time), paged newest first, and exported as CSV with the same filters.
import { send } from "./admin_api.js";
import { clearErrors, fieldError, showErrors, when } from "./admin_forms.js";
import { badge, el, fill, table } from "./format.js";
import { t } from "./i18n.js";
import { instantIn } from "./time.js";

const form = document.getElementById("audit-filter");
const list = document.getElementById("audit");
const count = document.getElementById("audit-count");
const more = document.getElementById("audit-more");
const exportLink = document.getElementById("audit-export");
const PAGE = 100;
const OUTCOME_CLASS = { ok: "ok", failed: "bad", denied: "bad", throttled: "warn" };
const outcomeName = (outcome) =>
  ({ ok: t("admin.outcome.ok"), failed: t("admin.outcome.failed"), denied: t("admin.outcome.denied"), throttled: t("admin.outcome.throttled") })[outcome] ?? outcome;

let rows = [];
let cursor = null;

/** The filter as API parameters; times typed in the hospital's time zone, sent as instants. Null (and a reason shown) if wrong. */
function filters() {
  const params = new URLSearchParams();
  for (const name of ["actor", "action", "outcome"]) {
    const value = form.elements[name].value.trim();
    if (value) params.set(name, value);
  }
  for (const name of ["since", "until"]) {
    const value = form.elements[name].value;
    if (!value) continue;
    const at = instantIn(value); // typed in the hospital's time zone, like every time the pages show
    if (at === null) {
      fieldError(form, name, t("admin.audit.bad_time"));
      return null;
    }
    params.set(name, at);
  }
  const { since, until } = Object.fromEntries(params);
  if (since && until && since >= until) {
    fieldError(form, "until", t("admin.audit.until_before_since"));
    return null;
  }
  return params;
}

function entry(e) {
  return el(
    "tr",
    { "data-id": e.id },
    el("td", {}, when(e.at)),
    el("td", { class: "wrap", text: e.actor ?? "—" }),
    el("td", { text: e.role ?? "—" }),
    el("td", { text: e.action }),
    el("td", { class: "wrap", text: e.target ?? "—" }),
    el("td", {}, badge(outcomeName(e.outcome), OUTCOME_CLASS[e.outcome])),
    el("td", { text: e.client ?? "—" }),
    el("td", { class: "wrap", text: e.detail ?? "" }),
  );
}

function render(total) {
  const headers = [
    t("admin.audit.at"),
    t("admin.audit.actor"),
    t("admin.field.role"),
    t("admin.audit.action"),
    t("admin.audit.target"),
    t("admin.audit.outcome"),
    t("admin.audit.client"),
    t("admin.audit.detail"),
  ];
  fill(list, rows.length ? [table(headers, rows.map(entry), { caption: t("admin.audit.title") })] : [], t("admin.audit.none"));
  count.textContent = t("admin.audit.count", { shown: rows.length, total });
  more.hidden = !cursor;
}

async function load(params, { append = false } = {}) {
  const query = new URLSearchParams(params);
  query.set("limit", PAGE);
  if (append && cursor) query.set("cursor", cursor);
  try {
    const page = await send("GET", `/api/v1/audit?${query}`);
    rows = append ? rows.concat(page.data) : page.data;
    cursor = page.next_cursor;
    render(page.total_capped ? `${page.total}+` : page.total);
  } catch (error) {
    showErrors(form, error);
  }
}

let applied = new URLSearchParams();

function apply() {
  clearErrors(form);
  const params = filters();
  if (!params) return;
  applied = params;
  const query = params.toString();
  exportLink.href = `/api/v1/audit/export${query ? `?${query}` : ""}`;
  load(params);
}

form.addEventListener("submit", (event) => {
  event.preventDefault();
  apply();
});
form.addEventListener("reset", () => setTimeout(apply));
more.addEventListener("click", () => load(applied, { append: true }));
apply();
