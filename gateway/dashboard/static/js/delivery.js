// One delivery: its status and due time, its contents by medication name, the robot carrying it (task state,
// battery), the route's stops done and the leg it is on with an ETA, and every step with its time and handler; live.
import { ApiError, getJson } from "./api.js";
import { hospitalNow } from "./clock.js";
import { coalesce, drug, el, fill, named, table, timeEl } from "./format.js";
import { t } from "./i18n.js";
import { follow } from "./live.js";
import { destination, progressBar } from "./pharmacy_deliveries.js";
import { battery, pill, priorityText, stateText, statusText, taskBadge } from "./pharmacy_words.js";

await hospitalNow().catch(() => {});

const id = document.body.dataset.delivery;
const $ = (name) => document.getElementById(name);
const fact = (term, ...value) => el("div", {}, el("dt", { text: term }), el("dd", {}, ...value));

function summary(d, route) {
  fill($("summary"), [el("dl", { class: "facts" },
    fact(t("pharmacy.col.status"), pill(statusText(d.status), d.overdue ? "overdue" : d.status === "failed" ? "failed" : "info"), progressBar(d.progress)),
    fact(t("pharmacy.col.to"), destination(d)),
    fact(t("pharmacy.col.cabinet"), named(d.cabinet, d.cabinet_name)),
    fact(t("pharmacy.col.now_at"), named(d.location, d.location_name)),
    fact(t("pharmacy.col.priority"), priorityText(d.priority)),
    fact(t("pharmacy.col.order"), d.order_id ?? "—"),
    fact(t("pharmacy.col.due"), timeEl(d.due_at), d.overdue ? el("span", {}, " ", pill(t("pharmacy.deliveries.overdue"), "overdue")) : null),
    fact(t("pharmacy.delivery.eta"), route.eta ? timeEl(route.eta, { seconds: false }) : d.arrived_at ? el("span", {}, t("pharmacy.delivery.arrived_at"), " ", timeEl(d.arrived_at)) : "—"),
    d.failure_reason ? fact(t("pharmacy.delivery.failure"), d.failure_reason) : null,
  )]);
}

function contents(d) {
  const rows = d.items.map((line) => el("tr", { "data-gtin": line.gtin }, el("td", {}, drug(line)), el("td", { class: "num", text: line.quantity })));
  fill($("contents"), rows.length ? [table([t("pharmacy.col.item"), { text: t("pharmacy.col.qty"), num: true }], rows, { caption: t("pharmacy.delivery.contents") })] : [],
    t("pharmacy.delivery.no_items"));
}

function robot(route) {
  const r = route.robot;
  if (!r) return fill($("robot"), [], t("pharmacy.deliveries.no_robot"));
  fill($("robot"), [el("dl", { class: "facts", "data-robot": r.robot },
    fact(t("pharmacy.col.robot"), named(r.robot, r.robot_name)),
    fact(t("pharmacy.col.state"), pill(stateText(r.state), r.state)),
    fact(t("pharmacy.col.task"), taskBadge(r.task)),
    fact(t("pharmacy.col.battery"), battery(r.battery_pct)),
    fact(t("pharmacy.col.position_at"), timeEl(r.position_at)))]);
}

function progress(route) {
  if (!route.stops.length) return fill($("route"), [], t("pharmacy.delivery.no_route"));
  const current = route.leg_to;
  const stops = route.stops.map((s) => el("li", { class: s.done ? "done" : s.node === current ? "next" : null, "data-node": s.node },
    el("span", { class: "mark", "aria-hidden": "true", text: s.done ? "●" : "○" }), " ", named(s.node, s.node_name),
    s.done ? el("span", { class: "visually-hidden", text: ` (${t("pharmacy.delivery.stop_done")})` }) : null));
  fill($("route"), [
    route.leg_from ? el("p", { class: "leg" }, t("pharmacy.delivery.leg"), " ", named(route.leg_from, route.leg_from_name), " → ", named(route.leg_to, route.leg_to_name)) : null,
    route.share_done !== null ? el("p", { class: "share", text: t("pharmacy.delivery.share", { pct: Math.round(route.share_done * 100) }) }) : null,
    el("ol", { class: "route" }, stops),
  ].filter(Boolean));
}

function steps(d) {
  const items = d.steps.map((s) => el("li", { "data-type": s.type },
    el("span", {}, timeEl(s.at)),
    el("span", {}, el("strong", { text: statusText(s.status) })),
    el("span", { class: "where" }, s.place ? named(s.place, s.place_name) : null,
      s.robot ? el("span", {}, " · ", named(s.robot, s.robot_name)) : null,
      s.badge ? el("span", {}, " · ", t("pharmacy.cabinets.by"), " ", named(s.badge, s.badge_name)) : null,
      s.detail ? ` · ${s.detail}` : null)));
  fill($("steps"), items.length ? [el("ol", { class: "timeline" }, items)] : [], t("pharmacy.delivery.no_steps"));
}

async function load() {
  try {
    const path = `/api/v1/deliveries/${encodeURIComponent(id)}`;
    const [d, route] = await Promise.all([getJson(path), getJson(`${path}/route`)]);
    summary(d, route); contents(d); robot(route); progress(route); steps(d);
    $("delivery-problem").replaceChildren();
  } catch (error) {
    const text = error instanceof ApiError && error.status === 404 ? t("pharmacy.delivery.not_found", { id }) : error.message;
    fill($("delivery-problem"), [el("p", { class: "problem", text })]);
  }
}

const refresh = coalesce(load, 250);
refresh();
follow({}, { onOpen: refresh, onChange: (change) => { if (change.subject_kind === "delivery" || change.subject_kind === "device") refresh(); } });
setInterval(refresh, 10000); // the robot's position and battery come as telemetry, which the stream does not carry
