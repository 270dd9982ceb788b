// Formatting and DOM helpers shared by every view. Times are shown in UTC, consistently (the footer says so).

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
let today = new Date().toISOString().slice(0, 10);

/** The hospital's day (UTC date of the gateway's now), so a simulated day's times show without a date. */
export function setToday(iso) {
  today = String(iso).slice(0, 10);
}

/** "08:03:12" on the hospital's day (UTC), "2026-11-22 08:03" on another day; "—" for nothing. */
export function clock(iso, { seconds = true } = {}) {
  if (!iso) return "—";
  const t = new Date(iso);
  const hm = `${pad(t.getUTCHours())}:${pad(t.getUTCMinutes())}`;
  const day = t.toISOString().slice(0, 10);
  if (day !== today) return `${day} ${hm}`;
  return seconds ? `${hm}:${pad(t.getUTCSeconds())}` : hm;
}

/** A <time> element showing `clock(iso)` with the full UTC instant as its machine-readable value. */
export function timeEl(iso, options) {
  if (!iso) return el("span", { text: "—" });
  return el("time", { datetime: iso, title: `${iso.replace("T", " ").replace("Z", "")} UTC` }, clock(iso, options));
}

/** Seconds as people say it: "45 s", "4 min 12 s", "1 h 05 min", "2 d 3 h"; negative ones with a minus sign. */
export function duration(seconds) {
  if (seconds === null || seconds === undefined) return "—";
  const sign = seconds < 0 ? "−" : "";
  let s = Math.round(Math.abs(seconds));
  if (s < 60) return `${sign}${s} s`;
  if (s < 3600) return `${sign}${Math.floor(s / 60)} min${s % 60 ? ` ${pad(s % 60)} s` : ""}`;
  if (s < 86400) return `${sign}${Math.floor(s / 3600)} h ${pad(Math.floor((s % 3600) / 60))} min`;
  return `${sign}${Math.floor(s / 86400)} d ${Math.floor((s % 86400) / 3600)} h`;
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
  const unknown = el("span", { class: "unknown-ref", title: "not in the reference data", "data-id": id }, id);
  return kind ? el("span", {}, unknown, ` (${kind})`) : unknown;
}

/** A { kind, id, name } reference (a place or a handler) as `named` shows it; a tube carrier (an RFID tag, which
 * reference data does not list) shows as itself, unmarked. */
export function namedRef(r) {
  if (!r) return el("span", { text: "—" });
  if (r.kind === "carrier" && !r.name) return el("span", { text: `${r.id} (carrier)` });
  return named(r.id, r.name, { kind: r.kind });
}

/** A specimen's place or holder: its carrier (in the tube) is an RFID tag the reference data does not list, so it
 * shows as "carrier C-77", not as unknown. */
export const carried = (id, name, specimen) => (id && id === specimen.carrier && !name ? `carrier ${id}` : named(id, name));

/** A medication by its GTIN: name and strength from the formulary (the GTIN on hover), or the GTIN marked unknown. */
export function drug({ gtin, medication_name: name, medication_strength: strength }) {
  if (!name) return named(gtin, null);
  return el("span", { class: "ref", title: `GTIN ${gtin}`, "data-id": gtin }, strength ? `${name} ${strength}` : name);
}

/** Plain text where no element fits (a <select>'s option, an SVG label): the name, else the id. */
export const nameOr = (id, name) => name ?? id ?? "—";

export function badge(value, cls = value) {
  return el("span", { class: `badge ${cls ?? ""}`, text: words(value) });
}

/** Replace a container's children; a message in italics when there is nothing. */
export function fill(container, children, emptyText = "Nothing to show.") {
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
 * Coalesce a burst of calls into one call of `fn`, `ms` after the first: a busy stream (a change every few
 * milliseconds) still refreshes the view at least every `ms`, never once per change. Runs never overlap (a slow
 * answer cannot overwrite a newer one); calls during a run schedule one more run after it.
 */
export function coalesce(fn, ms) {
  let timer = null;
  let running = false;
  let again = false;
  const run = async () => {
    timer = null;
    running = true;
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
    else if (timer === null) timer = setTimeout(run, ms);
  };
  return schedule;
}
