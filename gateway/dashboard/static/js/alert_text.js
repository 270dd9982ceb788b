// An alert in the viewer's language: its title from the catalogue (alerts.kind.<kind>) filled from the alert's
// details and the names the API puts beside ids; the server's English message when the kind or a value is unknown.
import { clock } from "./format.js";
import { has, t } from "./i18n.js";

/** Who acts on each family of alert kinds, when the gateway does not say (`audience` is newer than some gateways). */
const FAMILY_ROLE = {
  specimen: "lab", carrier: "lab",
  delivery: "pharmacy", robot: "pharmacy", cabinet: "pharmacy",
  device: "engineer", edge: "engineer", event: "engineer",
};

/** The roles an alert is for: the gateway's `audience`, else by the family of its kind. */
export const audienceOf = (alert) => alert.audience ?? [FAMILY_ROLE[alert.kind.split(".")[0]] ?? "engineer"];

/** Whether the viewer (by role) is one who acts on `alert`; admin acts on every alert. */
export const isFor = (alert, role) => role === "admin" || audienceOf(alert).includes(role);

/** Cleared before anyone acknowledged it: still owed an acknowledgement (false where the gateway does not say). */
export const isOwed = (alert) => alert.owed === true;

/** Acknowledged by someone (the `acknowledged` flag, else the state). */
export const isAcknowledged = (alert) => alert.acknowledged ?? alert.state === "acknowledged";

/** A word from the catalogue for a code (`alerts.reason.no_read`), or the code itself with _ as spaces. */
export function word(prefix, code) {
  if (code === null || code === undefined || code === "") return undefined;
  return has(`${prefix}.${code}`) ? t(`${prefix}.${code}`) : String(code).replaceAll("_", " ");
}

/** The name of an id in the alert: its subject's or ward's name from the API, else the id itself. */
function nameOf(alert, id) {
  if (id === null || id === undefined) return undefined;
  if (alert.details_names?.[id]) return alert.details_names[id];
  if (id === alert.subject?.id && alert.subject.name) return alert.subject.name;
  if (id === alert.ward && alert.ward_name) return alert.ward_name;
  return String(id);
}

const count = (list) => (Array.isArray(list) ? list.length : list);
const time = (iso, alert) => (iso ? clock(iso, { seconds: false, site: alert.site }) : undefined);

/** The values an alert's title may name, from its details (those a kind lacks stay undefined). */
function params(alert) {
  const d = alert.details ?? {};
  const items = d.items ?? d.pick_lines;
  return {
    barcode: d.barcode ?? (alert.subject?.kind === "specimen" ? alert.subject.id : undefined),
    priority: word("alerts.priority", d.priority ?? "routine"),
    ward: alert.ward ? nameOf(alert, alert.ward) : t("alerts.no_ward"),
    due: time(d.due_at, alert),
    expected: time(d.predicted_at, alert),
    device: nameOf(alert, d.device),
    lane: d.lane ?? "?",
    reason: word("alerts.reason", d.reason ?? "none"),
    carrier: d.carrier,
    from: nameOf(alert, d.from_station),
    to: nameOf(alert, d.to_station),
    sent: time(d.dispatched_at, alert),
    specimens: count(d.specimens),
    carriers: count(d.carriers),
    stat: d.stat_count ?? count(d.stat_specimens) ?? 0,
    delivery: d.delivery ?? (alert.subject?.kind === "delivery" ? alert.subject.id : undefined),
    status: word("alerts.status", d.status),
    robot: nameOf(alert, d.robot),
    since: time(d.since ?? d.door_since ?? d.last_event_at ?? d.first_seen_at, alert),
    percent: d.battery_percent !== undefined ? Math.round(d.battery_percent) : d.percent !== undefined ? Math.round(d.percent) : undefined,
    cabinet: nameOf(alert, d.cabinet),
    low: d.range_c?.[0],
    high: d.range_c?.[1],
    latest: d.latest_c !== undefined ? Number(d.latest_c).toFixed(1) : undefined,
    items: count(items),
    quantity: d.quantity,
    gtin: d.gtin,
    bin: d.bin,
    by: nameOf(alert, d.badge),
    edge: nameOf(alert, d.edge),
    count: d.count,
    events: d.events,
    fault: word("alerts.fault", d.fault),
    zone: d.zone,
  };
}

/** Which catalogue message says this alert: a kind may have variants by what its details hold. */
function messageKey(alert) {
  const d = alert.details ?? {};
  const key = `alerts.kind.${alert.kind}`;
  if (alert.kind === "device.fault") {
    if (d.zone) return `${key}.zone`;
    if (count(d.specimens) || count(d.carriers)) return `${key}.holding`;
  }
  return key;
}

/** The alert's title in the viewer's language; the gateway's English message for a kind the catalogue lacks. */
export function alertTitle(alert) {
  const key = messageKey(alert);
  if (!has(key)) return alert.message;
  const values = Object.fromEntries(Object.entries(params(alert)).filter(([, v]) => v !== undefined && v !== null));
  const text = t(key, values);
  return /\{[a-z_]+\}/.test(text) ? alert.message : text; // a value it needs is missing: say what the gateway said
}

/** "critical" → "Critical" in the viewer's language. */
export const severityWord = (severity) => word("alerts.severity", severity);
