// Administration · reference data: what is in force (who imported it, when, how many of each kind), a searchable
// table per kind, and a CSV or FHIR file imported through /api/v1/reference/import, its problems listed per line.
import { everything, send } from "./admin_api.js";
import { clearErrors, fieldError, showErrors, when } from "./admin_forms.js";
import { el, fill, table } from "./format.js";
import { t } from "./i18n.js";

const KINDS = ["locations", "staff", "medications", "devices"];
const COLUMNS = {
  locations: ["id", "name", "kind", "building", "floor", "zone", "part_of"],
  staff: ["badge", "name", "role"],
  medications: ["gtin", "name", "strength", "form", "refrigerated", "controlled"],
  devices: ["id", "name", "location"],
};
const SHOWN = 500;

const version = document.getElementById("reference-version");
const kinds = document.getElementById("reference-kinds");
const search = document.getElementById("reference-search");
const shown = document.getElementById("reference-shown");
const records = document.getElementById("reference-records");
const form = document.getElementById("reference-import");
const result = document.getElementById("import-result");

const kindName = (kind) =>
  ({ locations: t("admin.kind.locations"), staff: t("admin.kind.staff"), medications: t("admin.kind.medications"), devices: t("admin.kind.devices") })[kind];
const COLUMN_NAMES = () => ({
  id: t("admin.col.id"),
  name: t("admin.col.name"),
  kind: t("admin.col.kind"),
  building: t("admin.col.building"),
  floor: t("admin.col.floor"),
  zone: t("admin.col.zone"),
  part_of: t("admin.col.part_of"),
  badge: t("admin.col.badge"),
  role: t("admin.col.role"),
  gtin: t("admin.col.gtin"),
  strength: t("admin.col.strength"),
  form: t("admin.col.form"),
  refrigerated: t("admin.col.refrigerated"),
  controlled: t("admin.col.controlled"),
  location: t("admin.col.location"),
});
const cell = (value) => (value === true ? t("admin.yes") : value === false ? t("admin.no") : value ?? "—");

let current = "locations";
let loaded = [];

function render() {
  const words = search.value.trim().toLowerCase().split(/\s+/).filter(Boolean);
  const matching = loaded.filter((r) => {
    const text = COLUMNS[current].map((c) => String(r[c] ?? "")).join(" ").toLowerCase();
    return words.every((w) => text.includes(w));
  });
  shown.textContent = t("admin.reference.shown", { shown: Math.min(matching.length, SHOWN), total: loaded.length });
  const rows = matching.slice(0, SHOWN).map((r) => el("tr", {}, COLUMNS[current].map((c) => el("td", { text: cell(r[c]) }))));
  const names = COLUMN_NAMES();
  fill(records, rows.length ? [table(COLUMNS[current].map((c) => names[c]), rows, { caption: kindName(current) })] : [], t("admin.reference.nothing"));
}

async function show(kind) {
  current = kind;
  for (const button of kinds.querySelectorAll("button")) button.setAttribute("aria-pressed", String(button.dataset.kind === kind));
  fill(records, [el("p", { class: "empty", text: t("common.loading") })]);
  try {
    loaded = (await everything(`/api/v1/reference/${kind}`)).data;
    render();
  } catch (error) {
    fill(records, [el("p", { class: "problem", text: error.message })]);
  }
}

async function load() {
  try {
    const now = await send("GET", "/api/v1/reference");
    const facts = now.version
      ? [
          [t("admin.reference.version"), String(now.version)],
          [t("admin.reference.imported_at"), when(now.imported_at)],
          [t("admin.reference.imported_by"), now.imported_by ?? "—"],
          [t("admin.reference.source"), now.source ?? "—"],
        ]
      : [[t("admin.reference.version"), t("admin.reference.none")]];
    version.replaceChildren(el("dl", { class: "facts" }, facts.map(([k, v]) => el("div", {}, el("dt", { text: k }), el("dd", {}, v)))));
    kinds.replaceChildren(
      ...KINDS.map((kind) =>
        el("button", { type: "button", class: "secondary", "data-kind": kind, "aria-pressed": "false", onclick: () => show(kind) }, t("admin.reference.kind_count", { kind: kindName(kind), count: now.counts[kind] })),
      ),
    );
    await show(current);
  } catch (error) {
    fill(version, [el("p", { class: "problem", text: error.message })]);
  }
}

function problems(errors) {
  const headers = [t("admin.reference.problem_file"), t("admin.reference.problem_line"), t("admin.reference.problem_field"), t("admin.reference.problem_reason")];
  const rows = errors.map((p) =>
    el("tr", {}, el("td", { text: p.file }), el("td", { class: "num", text: p.row ?? (p.entry !== null && p.entry !== undefined ? `#${p.entry}` : "—") }), el("td", { text: p.field || "—" }), el("td", { text: p.reason })),
  );
  return table(headers, rows, { caption: t("admin.reference.problems") });
}

form.addEventListener("submit", async (event) => {
  event.preventDefault();
  clearErrors(form);
  result.replaceChildren();
  const file = form.elements.file.files[0];
  if (!file) {
    fieldError(form, "file", t("admin.reference.choose_file"));
    return;
  }
  const json = /\.json$/i.test(file.name);
  const params = new URLSearchParams({ name: file.name, comment: form.elements.comment.value });
  if (form.elements.kind.value) params.set("kind", form.elements.kind.value);
  const button = form.querySelector("button[type=submit]");
  button.disabled = true;
  try {
    const body = await file.text();
    const done = await send("POST", `/api/v1/reference/import?${params}`, body, { type: json ? "application/fhir+json" : "text/csv" });
    const counts = KINDS.map((k) => `${kindName(k)} ${done.counts[k]}`).join(" · ");
    result.replaceChildren(el("p", { class: "done", role: "status", text: t("admin.reference.imported", { version: done.version, counts }) }));
    form.reset();
    await load();
  } catch (error) {
    showErrors(form, error);
    if (error.errors?.length) result.replaceChildren(el("h3", { text: t("admin.reference.problems") }), problems(error.errors));
  } finally {
    button.disabled = false;
  }
});

search.addEventListener("input", render);
load();
