// The robots panel: each robot on the node graph, online or not, what it is doing (its VDA 5050 task state), its
// battery, where it is and the delivery it carries.
import { getJson } from "./api.js";
import { el, fill, named, table, timeEl } from "./format.js";
import { nodeGraph } from "./graph.js";
import { t } from "./i18n.js";
import { deliveryLink } from "./pharmacy_deliveries.js";
import { battery, pill, stateText, taskBadge } from "./pharmacy_words.js";

export async function loadRobots(target) {
  const answer = await getJson("/api/v1/robots");
  const rows = answer.data.map((r) => el("tr", { "data-robot": r.robot, "data-task": r.task ?? "" },
    el("th", { scope: "row" }, named(r.robot, r.robot_name)),
    el("td", {}, pill(stateText(r.state), r.state)),
    el("td", {}, taskBadge(r.task), r.faults.length ? el("div", { class: "faults", text: r.faults.join("; ") }) : null),
    el("td", { class: "num" }, battery(r.battery_pct)),
    el("td", {}, r.node ? el("span", {}, named(r.node, r.node_name), ` (${r.floor})`) : "—"),
    el("td", {}, r.delivery ? deliveryLink(r.delivery) : "—"),
    el("td", {}, timeEl(r.position_at))));
  const headers = [t("pharmacy.col.robot"), t("pharmacy.col.state"), t("pharmacy.col.task"), { text: t("pharmacy.col.battery"), num: true },
    t("pharmacy.col.near"), t("pharmacy.col.carrying"), t("pharmacy.col.position_at")];
  fill(target, [
    nodeGraph(answer.graph, answer.data),
    rows.length ? table(headers, rows, { caption: t("pharmacy.robots.title") }) : el("p", { class: "empty", text: t("pharmacy.robots.none") }),
  ]);
}
