// Formatting and DOM helpers shared by every view. Times are the hospital's (time.js; the footer names the zone).
import { has, t } from "./i18n.js";
import { clock, fullTime } from "./time.js";

/** Build an element: el("td", {class: "num", text: "3"}, child, ...). Text is always set as text, never HTML. */
export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue;
    if (key === "text") node.textContent = String(value);
    else if (key === "class") node.className = value;
    else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else node.setAttribute(key, value === true ? "" : String(value));
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

const pad = (n) => String(n).padStart(2, "0");

export { clock, setToday, zone, zoneOf } from "./time.js";

/** A <time> element showing `clock(iso)` in the hospital's zone (`site`'s own where it has one), the full instant
 * with its zone on hover and as its machine-readable value. */
export function timeEl(iso, options = {}) {
  if (!iso) return el("span", { text: "—" });
  return el("time", { datetime: iso, title: fullTime(iso, options) }, clock(iso, options));
}

/** Seconds as people say it: "45 s", "4 min 12 s", "1 h 05 min", "2 d 3 h"; negative ones with a minus sign. */
export function duration(seconds) {
  if (seconds === null || seconds === undefined) return "—";
  const sign = seconds < 0 ? "−" : "";
  const s = Math.round(Math.abs(seconds));
  if (s < 60) return sign + t("time.duration.s", { s });
  if (s < 3600) {
    const m = Math.floor(s / 60);
    return sign + (s % 60 ? t("time.duration.min_s", { m, s: pad(s % 60) }) : t("time.duration.min", { m }));
  }
  if (s < 86400) return sign + t("time.duration.h_min", { h: Math.floor(s / 3600), m: pad(Math.floor((s % 3600) / 60)) });
  return sign + t("time.duration.d_h", { d: Math.floor(s / 86400), h: Math.floor((s % 86400) / 3600) });
}

/** "specimen.sorted" → "sorted"; "handed_over" → "handed over". */
export function words(value) {
  if (!value) return "—";
  return String(value).replace(/^[a-z]+\./, "").replaceAll("_", " ");
}

/**
 * An id people read, by the name the reference data gives it (the API's `*_name` beside the id), with the id on
 * hover so engineers can still match codes. An id the reference data does not know shows as itself, marked as
 * unknown; `kind` (e.g. "station") follows an unknown id, where a name would have said what it is.
 */
export function named(id, name, { kind } = {}) {
  if (id === null || id === undefined || id === "") return el("span", { text: "—" });
  if (name) return el("span", { class: "ref", title: kind ? `${id} (${kind})` : String(id), "data-id": id }, name);
  const unknown = el("span", { class: "unknown-ref", title: t("format.unknown_ref"), "data-id": id }, id);
  return kind ? el("span", {}, unknown, ` (${kindWord(kind)})`) : unknown;
}

/** What kind of place or holder an id is, in the page's language ("station", "检验科"); the code when unknown. */
export const kindWord = (kind) => (has(`format.kind.${kind}`) ? t(`format.kind.${kind}`) : kind);

/** A { kind, id, name } reference (a place or a handler) as `named` shows it; a tube carrier (an RFID tag, which
 * reference data does not list) shows as itself, unmarked. */
export function namedRef(r) {
  if (!r) return el("span", { text: "—" });
  if (r.kind === "carrier" && !r.name) return el("span", { text: `${r.id} (${kindWord("carrier")})` });
  return named(r.id, r.name, { kind: r.kind });
}

/** A specimen's place or holder: its carrier (in the tube) is an RFID tag the reference data does not list, so it
 * shows as "carrier C-77", not as unknown. */
export const carried = (id, name, specimen) => (id && id === specimen.carrier && !name ? t("format.carrier", { id }) : named(id, name));

/** A medication by its GTIN: name and strength from the formulary (the GTIN on hover), or the GTIN marked unknown. */
export function drug({ gtin, medication_name: name, medication_strength: strength }) {
  if (!name) return named(gtin, null);
  return el("span", { class: "ref", title: `GTIN ${gtin}`, "data-id": gtin }, strength ? `${name} ${strength}` : name);
}

/** Plain text where no element fits (a <select>'s option, an SVG label): the name, else the id. */
export const nameOr = (id, name) => name ?? id ?? "—";

/** A state as a coloured badge, in the page's language where the catalogue has the word (`format.state.offline`). */
export function badge(value, cls = value) {
  return el("span", { class: `badge ${cls ?? ""}`, text: has(`format.state.${value}`) ? t(`format.state.${value}`) : words(value) });
}

/** Replace a container's children; a message in italics when there is nothing. */
export function fill(container, children, emptyText = t("format.nothing")) {
  container.replaceChildren(...(children.length ? children : [el("p", { class: "empty", text: emptyText })]));
}

export function table(headers, rows, { caption } = {}) {
  return el(
    "div",
    { class: "scroll" },
    el(
      "table",
      {},
      caption ? el("caption", { class: "visually-hidden", text: caption }) : null,
      el("thead", {}, el("tr", {}, headers.map((h) => el("th", { scope: "col", class: h.num ? "num" : null, text: h.text ?? h })))),
      el("tbody", {}, rows),
    ),
  );
}

/**
 * Coalesce a burst of calls into few calls of `fn`: the first runs at once (a page's first load never waits), and
 * later ones at most every `ms`, so a busy stream (a change every few milliseconds) still refreshes the view at
 * least every `ms`, never once per change. Runs never overlap (a slow answer cannot overwrite a newer one); calls
 * during a run schedule one more run after it.
 */
export function coalesce(fn, ms) {
  let timer = null;
  let running = false;
  let again = false;
  let lastRun = -Infinity;
  const run = async () => {
    timer = null;
    running = true;
    lastRun = performance.now();
    try {
      await fn();
    } finally {
      running = false;
      if (again) {
        again = false;
        schedule();
      }
    }
  };
  const schedule = () => {
    if (running) again = true;
    else if (timer === null) timer = setTimeout(run, Math.max(0, lastRun + ms - performance.now()));
  };
  return schedule;
}
