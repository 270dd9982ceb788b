import "./alerts_inbox.js"; // the role's alert inbox (<section id="inbox">)
// The pharmacy view: deliveries in progress, robots on the node graph, cabinets (stock, fridge), the pick list.
import { getJson } from "./api.js";
import { lineChart } from "./charts.js";
import { hospitalNow, hoursAgo } from "./clock.js";
import { badge, coalesce, drug, el, fill, named, nameOr, table, timeEl, words } from "./format.js";
import { nodeGraph } from "./graph.js";
import { follow } from "./live.js";

await hospitalNow().catch(() => {}); // times on the hospital's day show without a date

const FRIDGE_RANGE_C = [2, 8];
const problem = (id) => (error) => fill(document.getElementById(id), [el("p", { class: "problem", text: error.message })]);

function progressBar(p) {
  const bar = el("div", { class: `progress${p.status === "failed" ? " failed" : ""}`, role: "progressbar",
    "aria-valuemin": 0, "aria-valuemax": p.of, "aria-valuenow": p.step, "aria-label": `step ${p.step} of ${p.of}: ${words(p.status)}` });
  for (let i = 1; i <= p.of; i++) bar.append(el("span", { class: i <= p.step ? "done" : null }));
  return bar;
}

async function loadDeliveries() {
  const list = await getJson("/api/v1/deliveries", { in_progress: "true", limit: "50" });
  const details = await Promise.all(list.data.map((d) => getJson(`/api/v1/deliveries/${encodeURIComponent(d.delivery)}`)));
  const rows = details.map((d) => {
    const departed = d.steps.find((s) => s.type === "delivery.departed");
    const to = d.ward && d.ward !== d.destination
      ? el("span", {}, named(d.destination, d.destination_name), " (", named(d.ward, d.ward_name), ")")
      : named(d.destination ?? d.ward, d.destination ? d.destination_name : d.ward_name);
    return el("tr", { "data-delivery": d.delivery, "data-status": d.status },
      el("th", { scope: "row", text: d.delivery }),
      el("td", {}, d.robot ? named(d.robot, d.robot_name) : "not assigned"),
      el("td", {}, departed ? named(departed.place, departed.place_name) : "not yet departed"),
      el("td", {}, to),
      el("td", {}, named(d.location, d.location_name)),
      el("td", {}, d.items.length ? el("ul", { class: "items" }, d.items.map((line) => el("li", {}, `${line.quantity} × `, drug(line)))) : "—"),
      el("td", {}, el("div", {}, badge(d.status, d.overdue ? "overdue" : "info")), progressBar(d.progress)),
      el("td", {}, timeEl(d.due_at), d.overdue ? el("div", {}, badge("overdue")) : null),
      el("td", { text: d.priority ?? "—" }));
  });
  const headers = ["Delivery", "Robot", "Departed from", "To", "Now at", "Items", "Progress", "Expected by", "Priority"];
  fill(document.getElementById("deliveries"), rows.length ? [table(headers, rows, { caption: "Deliveries in progress" })] : [], "No delivery is on its way.");
}

async function loadRobots() {
  const answer = await getJson("/api/v1/robots");
  const rows = answer.data.map((r) => el("tr", { "data-robot": r.robot },
    el("th", { scope: "row" }, named(r.robot, r.robot_name)), el("td", {}, badge(r.state)),
    el("td", { class: "num", text: r.battery_pct === null ? "—" : `${Math.round(r.battery_pct)} %` }),
    el("td", {}, r.node ? el("span", {}, named(r.node, r.node_name), ` (${r.floor})`) : "—"), el("td", { text: r.delivery ?? "—" }),
    el("td", {}, timeEl(r.position_at))));
  fill(document.getElementById("robots"), [
    nodeGraph(answer.graph, answer.data),
    rows.length ? table(["Robot", "State", { text: "Battery", num: true }, "Near", "Carrying", "Position at"], rows, { caption: "Robots" })
      : el("p", { class: "empty", text: "No robot has reported yet." }),
  ]);
}

const picker = document.getElementById("cabinet-pick");
async function loadCabinetList() {
  const cabinets = await getJson("/api/v1/cabinets");
  const chosen = picker.value;
  picker.replaceChildren(...cabinets.data.map((c) => el("option", { value: c.cabinet, title: c.cabinet,
    text: `${nameOr(c.cabinet, c.cabinet_name)}${c.ward ? ` · ${nameOr(c.ward, c.ward_name)}` : ""}` })));
  if (chosen) picker.value = chosen;
  if (!cabinets.data.length) fill(document.getElementById("cabinet"), [], "No cabinet has reported yet.");
  else await loadCabinet();
}

async function loadCabinet() {
  const id = picker.value;
  if (!id) return;
  const since = await hoursAgo(24);
  const [cabinet, temperature] = await Promise.all([
    getJson(`/api/v1/cabinets/${encodeURIComponent(id)}`),
    getJson(`/api/v1/cabinets/${encodeURIComponent(id)}/temperature`, { since, limit: "1000" }),
  ]);
  const stock = cabinet.inventory.map((line) => el("tr", {},
    el("td", { text: line.bin }), el("td", {}, drug(line)), el("td", { text: line.lot }), el("td", { text: line.expiry }),
    el("td", { class: "num", text: line.quantity }), el("td", { class: "num", text: line.par_min ?? "—" }),
    el("td", {}, line.below_par ? badge("below par", "warn") : "")));
  const alarms = cabinet.alarms.map((a) => el("li", {}, badge(a.alarm, "bad"), ` since `, timeEl(a.since), ` ${a.detail}`));
  const title = nameOr(cabinet.cabinet, cabinet.cabinet_name);
  fill(document.getElementById("cabinet"), [
    el("p", {}, named(cabinet.cabinet, cabinet.cabinet_name), cabinet.ward ? el("span", {}, " · ", named(cabinet.ward, cabinet.ward_name)) : null),
    el("p", {}, `Door ${cabinet.door}`, cabinet.refrigerated ? " · refrigerated" : "", cabinet.below_par ? ` · ${cabinet.below_par} item(s) below par` : ""),
    cabinet.last_access_at ? el("p", { class: "last-access" }, "Last access ", timeEl(cabinet.last_access_at),
      cabinet.last_access_by ? el("span", {}, " by ", named(cabinet.last_access_by, cabinet.last_access_by_name)) : null) : null,
    alarms.length ? el("ul", {}, alarms) : null,
    cabinet.refrigerated || temperature.data.length
      ? lineChart(temperature.data, { label: `Fridge temperature of ${title}, last 24 h`, unit: " °C", limits: cabinet.refrigerated ? FRIDGE_RANGE_C : [] })
      : null,
    stock.length ? table(["Bin", "Item", "Lot", "Expiry", { text: "Qty", num: true }, { text: "Par min", num: true }, ""], stock, { caption: `Inventory of ${title}` })
      : el("p", { class: "empty", text: "No inventory reported yet." }),
  ].filter(Boolean));
}
picker.addEventListener("change", () => loadCabinet().catch(problem("cabinet")));

async function loadPickList() {
  const picks = await getJson("/api/v1/replenishment");
  const rows = picks.data.map((p) => el("tr", {},
    el("td", {}, named(p.ward, p.ward_name)), el("td", {}, named(p.cabinet, p.cabinet_name)), el("td", {}, drug(p)), el("td", { text: p.bins.join(", ") }),
    el("td", { class: "num", text: p.on_hand }), el("td", { class: "num", text: `${p.par_min}–${p.par_max}` }),
    el("td", { class: "num", text: p.quantity })));
  fill(document.getElementById("picklist"), rows.length ? [table(["Ward", "Cabinet", "Item", "Bins", { text: "On hand", num: true }, { text: "Par", num: true }, { text: "Pick", num: true }], rows, { caption: "Pick list" })] : [],
    "Every cabinet is at or above par.");
}

const refreshDeliveries = coalesce(() => loadDeliveries().catch(problem("deliveries")), 250);
const refreshRobots = coalesce(() => loadRobots().catch(problem("robots")), 1000);
const refreshCabinets = coalesce(() => loadCabinetList().catch(problem("cabinet")), 1000);
const refreshPicks = coalesce(() => loadPickList().catch(problem("picklist")), 1000);
const refreshAll = () => { refreshDeliveries(); refreshRobots(); refreshCabinets(); refreshPicks(); };

refreshAll();
follow({}, {
  onOpen: refreshAll,
  onChange: (change) => {
    if (change.subject_kind === "delivery") { refreshDeliveries(); refreshRobots(); }
    if (change.subject_kind === "cabinet") { refreshCabinets(); refreshPicks(); }
  },
});
// Robots report position and battery as telemetry, which the stream does not carry: poll for it.
setInterval(refreshRobots, 10000);
setInterval(refreshCabinets, 60000);
