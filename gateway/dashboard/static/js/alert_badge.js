// The header's alert count on every page (open alerts for the viewer still to acknowledge, criticals highlighted),
// and a toast when a new critical alert for the viewer arrives live or one of theirs is escalated.
import { getJson } from "./api.js";
import { alertTitle, isAcknowledged, isFor, severityWord } from "./alert_text.js";
import { onAlerts } from "./alert_feed.js";
import { coalesce, el } from "./format.js";
import { t } from "./i18n.js";

const TOAST_HIDE_MS = 15000;
const role = document.body.dataset.role;
const link = document.getElementById("alert-count");
const toasts = document.getElementById("toasts");

/** How many of the viewer's open alerts nobody has acknowledged yet (owed ones included), of `severity` if given:
 * the server's count for the viewer's role, however many there are (only one row is fetched). */
async function unacknowledged(severity) {
  const query = { state: "open", acknowledged: "false", limit: "1", ...(severity ? { severity } : {}) };
  return (await getJson("/api/v1/alerts", query)).count;
}

async function count() {
  const [open, critical] = await Promise.all([unacknowledged(), unacknowledged("critical")]);
  link.dataset.count = String(open);
  link.dataset.critical = String(critical);
  const parts = [el("span", { class: "label", text: t("alerts.count.label") }), el("span", { class: "n", text: String(open) })];
  if (critical) parts.push(el("span", { class: "crit", text: t("alerts.count.critical", { n: critical }) }));
  link.replaceChildren(...parts);
  link.setAttribute("aria-label", t("alerts.count.aria", { n: open, critical }));
  link.hidden = false;
}

function toast(alert, escalated) {
  const critical = alert.severity === "critical";
  const close = el("button", { type: "button", class: "dismiss", "aria-label": t("alerts.toast.dismiss"), text: "×" });
  const node = el("div", { class: `toast ${alert.severity}`, role: "alert", "data-alert": alert.id },
    el("p", {},
      el("strong", { text: `${severityWord(alert.severity)}${escalated ? ` · ${t("alerts.escalated")}` : ""}: ` }),
      alertTitle(alert)),
    el("a", { href: "/alerts", text: t("alerts.toast.open") }),
    close);
  close.addEventListener("click", () => node.remove());
  toasts.querySelector(`[data-alert="${alert.id}"]`)?.remove(); // one toast per alert, the latest news of it
  toasts.append(node);
  if (!critical) setTimeout(() => node.remove(), TOAST_HIDE_MS);
}

async function announce(change) {
  const escalated = change.type === "alert.escalated";
  if (change.type !== "alert.raised" && !escalated) return;
  let alert;
  try {
    alert = await getJson(`/api/v1/alerts/${encodeURIComponent(change.event_id)}`);
  } catch {
    return; // gone, or another ward's
  }
  if (!isFor(alert, role) || isAcknowledged(alert)) return;
  if (alert.severity === "critical" || escalated) toast(alert, escalated);
}

if (link) {
  const refresh = coalesce(() => count().catch(() => { link.hidden = true; }), 300);
  refresh();
  onAlerts({
    onOpen: refresh,
    onChange: (change) => {
      refresh();
      if (toasts) announce(change);
    },
  });
}
