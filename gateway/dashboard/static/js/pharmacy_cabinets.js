// Cabinets: an overview of every cabinet (ward, door, the fridge's current temperature, open alarms, items below
// par) and one cabinet's detail (stock per item over its bins against par, fridge lines to check after an excursion,
// the temperature chart, each bin's lots).
import { getJson } from "./api.js";
import { lineChart } from "./charts.js";
import { hoursAgo } from "./clock.js";
import { clock, drug, el, fill, named, nameOr, table, timeEl } from "./format.js";
import { t } from "./i18n.js";
import { alarmText, celsius, doorText, pill } from "./pharmacy_words.js";

const FRIDGE_RANGE_C = [2, 8];
let chosen = null;
let binsOpen = false; // kept open across live refreshes once opened

/** The door as staff say it: open, closed, or ajar (open too long: the cabinet's door_ajar alarm). */
const door = (c) => (c.alarms.some((a) => a.alarm === "door_ajar") ? "ajar" : c.door);

function temperature(c) {
  if (c.temperature_c === null) return el("span", { text: "—" });
  const out = c.temperature_c < FRIDGE_RANGE_C[0] || c.temperature_c > FRIDGE_RANGE_C[1];
  return el("span", { class: `temperature${out ? " out" : ""}` }, el("strong", { text: celsius(c.temperature_c) }), " ",
    el("span", { class: "at" }, timeEl(c.temperature_at)));
}

/** An alarm with the fridge's temperature now, not the one it was raised with. */
function alarm(a, c) {
  const now = a.alarm === "temperature_out_of_range" && c.temperature_c !== null
    ? [" · ", t("pharmacy.alarm.now", { value: celsius(c.temperature_c) }), " ", timeEl(c.temperature_at)]
    : a.detail ? [" · ", a.detail] : [];
  return el("li", { "data-alarm": a.alarm }, pill(alarmText(a.alarm), "bad"), " ", t("pharmacy.alarm.since"), " ", timeEl(a.since),
    a.badge ? el("span", {}, " · ", named(a.badge, a.badge_name)) : null, ...now);
}

const belowPar = (c) => (c.below_par === null ? el("span", { class: "empty", text: t("pharmacy.cabinets.stock_unknown") })
  : c.below_par ? pill(t("pharmacy.cabinets.below_par_count", { count: c.below_par }), "warn") : pill(t("pharmacy.cabinets.at_par"), "ok"));

export async function loadCabinets(overview, detail) {
  const cabinets = await getJson("/api/v1/cabinets");
  if (!cabinets.data.length) {
    fill(overview, [], t("pharmacy.cabinets.none"));
    fill(detail, [], t("pharmacy.cabinets.none"));
    return;
  }
  if (!cabinets.data.some((c) => c.cabinet === chosen)) chosen = cabinets.data[0].cabinet;
  const rows = cabinets.data.map((c) => {
    const open = () => { chosen = c.cabinet; markChosen(overview); loadCabinet(detail).then(() => detail.scrollIntoView({ block: "start" })); };
    return el("tr", { "data-cabinet": c.cabinet, "data-door": door(c), class: c.cabinet === chosen ? "chosen" : null },
      el("th", { scope: "row" }, el("button", { type: "button", class: "link", onclick: open, title: c.cabinet,
        "aria-label": t("pharmacy.cabinets.open", { name: nameOr(c.cabinet, c.cabinet_name) }) }, nameOr(c.cabinet, c.cabinet_name))),
      el("td", {}, named(c.ward, c.ward_name)),
      el("td", {}, pill(doorText(door(c)), door(c) === "closed" ? "ok" : door(c) === "unknown" ? "" : "warn"), " ", timeEl(c.door_since)),
      el("td", {}, temperature(c)),
      el("td", {}, belowPar(c)),
      el("td", {}, c.alarms.length ? el("ul", { class: "alarms" }, c.alarms.map((a) => alarm(a, c))) : t("pharmacy.cabinets.no_alarms")));
  });
  const headers = [t("pharmacy.col.cabinet"), t("pharmacy.col.ward"), t("pharmacy.col.door"), t("pharmacy.col.temperature"),
    t("pharmacy.col.stock"), t("pharmacy.col.alarms")];
  fill(overview, [table(headers, rows, { caption: t("pharmacy.cabinets.title") })]);
  await loadCabinet(detail);
}

function markChosen(overview) {
  for (const row of overview.querySelectorAll("tr[data-cabinet]")) row.classList.toggle("chosen", row.dataset.cabinet === chosen);
}

function check(item) {
  if (!item.check) return null;
  return pill(t("pharmacy.stock.check", { max: celsius(item.check.max_c), at: clock(item.check.started_at, { seconds: false }) }), "bad check");
}

function itemRow(item) {
  const flags = [item.below_par ? pill(t("pharmacy.stock.below_par"), "warn") : null, check(item)].filter(Boolean);
  return el("tr", { "data-gtin": item.gtin, class: [item.below_par ? "below-par" : "", item.check ? "to-check" : ""].join(" ").trim() || null },
    el("td", {}, drug(item), item.cold ? el("span", { class: "cold", title: t("pharmacy.stock.cold"), text: " ❄" }) : null),
    el("td", { text: item.bins.join(", ") || "—" }),
    el("td", { class: "num", text: item.on_hand }),
    el("td", { class: "num", text: item.par_min === null ? "—" : `${item.par_min}–${item.par_max}` }),
    el("td", {}, flags));
}

function binsTable(cabinet) {
  const rows = cabinet.inventory.map((line) => el("tr", {},
    el("td", { text: line.bin }), el("td", {}, drug(line)), el("td", { text: line.lot }), el("td", { text: line.expiry }),
    el("td", { class: "num", text: line.quantity })));
  const headers = [t("pharmacy.col.bin"), t("pharmacy.col.item"), t("pharmacy.col.lot"), t("pharmacy.col.expiry"), { text: t("pharmacy.col.qty"), num: true }];
  // Built when opened: the lots behind the per-item rows are for the few who look.
  const details = el("details", { class: "bins", open: binsOpen }, el("summary", { text: t("pharmacy.stock.per_bin") }));
  const show = () => { if (details.open && details.childElementCount === 1) details.append(table(headers, rows)); };
  details.addEventListener("toggle", () => { binsOpen = details.open; show(); });
  show();
  return details;
}

export async function loadCabinet(detail) {
  if (!chosen) return;
  const id = encodeURIComponent(chosen);
  const since = await hoursAgo(24);
  const [cabinet, temperatures] = await Promise.all([
    getJson(`/api/v1/cabinets/${id}`), getJson(`/api/v1/cabinets/${id}/temperature`, { since, limit: "1000" }),
  ]);
  const title = nameOr(cabinet.cabinet, cabinet.cabinet_name);
  const x = cabinet.excursion;
  fill(detail, [
    el("h3", { "data-cabinet": cabinet.cabinet }, named(cabinet.cabinet, cabinet.cabinet_name), cabinet.ward ? el("span", { class: "ward" }, " · ", named(cabinet.ward, cabinet.ward_name)) : null),
    el("p", {}, pill(doorText(door(cabinet)), door(cabinet) === "closed" ? "ok" : "warn"), " ", cabinet.refrigerated ? t("pharmacy.cabinets.fridge") : "", " ",
      cabinet.refrigerated ? temperature(cabinet) : null),
    cabinet.last_access_at ? el("p", { class: "last-access" }, t("pharmacy.cabinets.last_access"), " ", timeEl(cabinet.last_access_at),
      cabinet.last_access_by ? el("span", {}, " ", t("pharmacy.cabinets.by"), " ", named(cabinet.last_access_by, cabinet.last_access_by_name)) : null) : null,
    cabinet.alarms.length ? el("ul", { class: "alarms" }, cabinet.alarms.map((a) => alarm(a, cabinet))) : null,
    x ? el("p", { class: "problem excursion" }, t("pharmacy.cabinets.excursion"), " ", timeEl(x.started_at),
      x.ended_at ? el("span", {}, " – ", timeEl(x.ended_at)) : ` ${t("pharmacy.cabinets.ongoing")}`, " · ",
      t("pharmacy.cabinets.excursion_check", { max: celsius(x.max_c), min: celsius(x.min_c) })) : null,
    cabinet.refrigerated || temperatures.data.length
      ? lineChart(temperatures.data, { label: t("pharmacy.cabinets.chart", { name: title }), unit: " °C", limits: cabinet.refrigerated ? FRIDGE_RANGE_C : [] })
      : null,
    cabinet.items.length
      ? table([t("pharmacy.col.item"), t("pharmacy.col.bins"), { text: t("pharmacy.col.on_hand"), num: true }, { text: t("pharmacy.col.par"), num: true }, ""],
        cabinet.items.map(itemRow), { caption: t("pharmacy.stock.caption", { name: title }) })
      : el("p", { class: "empty", text: t("pharmacy.stock.none") }),
    cabinet.inventory_at === null ? el("p", { class: "empty", text: t("pharmacy.cabinets.stock_unknown") }) : null,
    cabinet.inventory.length ? binsTable(cabinet) : null,
  ].filter(Boolean));
}
