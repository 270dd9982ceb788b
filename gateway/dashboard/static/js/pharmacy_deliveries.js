// Deliveries on the pharmacy page: those in progress, and a search (id, ward, robot, medication, status) whose
// results open the delivery's own page.
import { getJson } from "./api.js";
import { drug, el, fill, named, table, timeEl } from "./format.js";
import { t } from "./i18n.js";
import { pill, priorityText, statusText } from "./pharmacy_words.js";

export const deliveryLink = (id) => el("a", { href: `/pharmacy/deliveries/${encodeURIComponent(id)}`, text: id });

export function progressBar(p) {
  const bar = el("div", { class: `progress${p.status === "failed" ? " failed" : ""}`, role: "progressbar",
    "aria-valuemin": 0, "aria-valuemax": p.of, "aria-valuenow": p.step,
    "aria-label": t("pharmacy.deliveries.step", { step: p.step, of: p.of, status: statusText(p.status) }) });
  for (let i = 1; i <= p.of; i++) bar.append(el("span", { class: i <= p.step ? "done" : null }));
  return bar;
}

const items = (d) => (d.items.length ? el("ul", { class: "items" }, d.items.map((line) => el("li", {}, `${line.quantity} × `, drug(line)))) : "—");

export const destination = (d) => (d.ward && d.ward !== d.destination
  ? el("span", {}, named(d.destination, d.destination_name), " (", named(d.ward, d.ward_name), ")")
  : named(d.destination ?? d.ward, d.destination ? d.destination_name : d.ward_name));

const statusBadge = (d) => pill(statusText(d.status), d.overdue ? "overdue" : d.status === "failed" ? "failed" : "info");

export async function loadDeliveries(target) {
  const list = await getJson("/api/v1/deliveries", { in_progress: "true", limit: "50" });
  const details = await Promise.all(list.data.map((d) => getJson(`/api/v1/deliveries/${encodeURIComponent(d.delivery)}`)));
  const rows = details.map((d) => {
    const departed = d.steps.find((s) => s.type === "delivery.departed");
    return el("tr", { "data-delivery": d.delivery, "data-status": d.status },
      el("th", { scope: "row" }, deliveryLink(d.delivery)),
      el("td", {}, d.robot ? named(d.robot, d.robot_name) : t("pharmacy.deliveries.no_robot")),
      el("td", {}, departed ? named(departed.place, departed.place_name) : t("pharmacy.deliveries.not_departed")),
      el("td", {}, destination(d)),
      el("td", {}, named(d.location, d.location_name)),
      el("td", {}, items(d)),
      el("td", {}, el("div", {}, statusBadge(d)), progressBar(d.progress)),
      el("td", {}, timeEl(d.due_at), d.overdue ? el("div", {}, pill(t("pharmacy.deliveries.overdue"), "overdue")) : null),
      el("td", { text: priorityText(d.priority) }));
  });
  const headers = [t("pharmacy.col.delivery"), t("pharmacy.col.robot"), t("pharmacy.col.departed_from"), t("pharmacy.col.to"),
    t("pharmacy.col.now_at"), t("pharmacy.col.items"), t("pharmacy.col.progress"), t("pharmacy.col.due"), t("pharmacy.col.priority")];
  fill(target, rows.length ? [table(headers, rows, { caption: t("pharmacy.deliveries.title") })] : [], t("pharmacy.deliveries.none"));
}

export async function searchDeliveries(q, target) {
  const found = await getJson("/api/v1/deliveries", { q, limit: "50" });
  const rows = found.data.map((d) => el("tr", { "data-delivery": d.delivery, "data-status": d.status },
    el("th", { scope: "row" }, deliveryLink(d.delivery)),
    el("td", {}, statusBadge(d)),
    el("td", {}, destination(d)),
    el("td", {}, d.robot ? named(d.robot, d.robot_name) : t("pharmacy.deliveries.no_robot")),
    el("td", {}, items(d)),
    el("td", {}, timeEl(d.last_event_at))));
  const headers = [t("pharmacy.col.delivery"), t("pharmacy.col.status"), t("pharmacy.col.to"), t("pharmacy.col.robot"),
    t("pharmacy.col.items"), t("pharmacy.col.last_event")];
  fill(target, rows.length ? [el("p", { class: "found", text: t("pharmacy.search.found", { count: found.count ?? rows.length, q }) }),
    table(headers, rows, { caption: t("pharmacy.search.caption", { q }) })] : [], t("pharmacy.search.none", { q }));
}
