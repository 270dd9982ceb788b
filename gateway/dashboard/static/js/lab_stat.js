// The STAT list: every open STAT specimen with the slack it has left, the least first, so the most urgent tube is
// always the top line (amber when tight, red when late).
import { getJson } from "./api.js";
import { el, fill, named, table, timeEl } from "./format.js";
import { t } from "./i18n.js";
import { keepingFocus } from "./render.js";
import { heldReason, outlookBadge, slackText, whereNow } from "./lab_place.js";

const SHOWN = 15;

function row(s) {
  const state = heldReason(s.held) ? "held" : s.outlook.state;
  return el("tr", { "data-barcode": s.barcode, "data-state": state },
    el("td", {}, el("a", { href: `/lab/specimens/${encodeURIComponent(s.barcode)}`, "data-key": `stat:${s.barcode}`, class: "code", text: s.barcode })),
    el("td", { class: `num slack ${state}`, text: slackText(s.outlook.slack_s) }),
    el("td", {}, outlookBadge(s)),
    el("td", {}, whereNow(s)),
    el("td", {}, named(s.ward, s.ward_name)),
    el("td", {}, timeEl(s.due_at)));
}

export async function loadStatList() {
  const container = document.getElementById("stat-list");
  const open = await getJson("/api/v1/specimens", { priority: "stat", open: "true", sort: "due", limit: "100" });
  const bySlack = [...open.data].sort((a, b) => (a.outlook.slack_s ?? Infinity) - (b.outlook.slack_s ?? Infinity));
  const headers = [t("lab.col.barcode"), { text: t("lab.col.slack"), num: true }, t("lab.col.outlook"), t("lab.col.where"), t("lab.col.ward"), t("lab.col.due")];
  const more = open.count > SHOWN ? el("p", { class: "more", text: t("lab.stat.more", { shown: SHOWN, count: open.count }) }) : null;
  keepingFocus(container, () => fill(container,
    bySlack.length ? [table(headers, bySlack.slice(0, SHOWN).map(row), { caption: t("lab.stat.caption") }), more].filter(Boolean) : [],
    t("lab.stat.empty")));
}
