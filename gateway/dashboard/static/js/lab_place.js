// How the lab reads a specimen: where it is in words (in the tube from a ward, an error lane's lane, rack and
// position), its outlook (amber when tight, "held: zone B blocked" when a fault holds it), its priority and status.
import { duration, el, named } from "./format.js";
import { t } from "./i18n.js";
import { tNodes } from "./lab_nodes.js";

/** "zone-b" → "zone B" as the staff say it; any other zone id as it is. */
export function zoneName(zone) {
  if (!zone) return null;
  const letter = /^zone[-_ ]?([a-z0-9]+)$/i.exec(zone);
  return letter ? t("lab.place.zone", { zone: letter[1].toUpperCase() }) : zone;
}

const HELD_FAULTS = ["zone_blocked", "jam", "door_open", "offline"];

/** A `held` field (the root-cause alert that holds the specimen) as words: "zone B blocked", "Sorter 1 jammed";
 * a fault these words do not cover by the API's own reason; a plain string as it is. */
export function heldReason(held) {
  if (!held) return null;
  if (typeof held === "string") return held;
  const device = held.device_name ?? held.device;
  if (held.fault === "zone_blocked" && held.zone) return t("lab.held.zone_blocked", { zone: zoneName(held.zone) });
  if (HELD_FAULTS.includes(held.fault)) return t(`lab.held.${held.fault}`, { device });
  return held.reason ?? null;
}

function heldZone(held) {
  return held && typeof held === "object" && held.zone ? zoneName(held.zone) : null;
}

/** Sorter output, as staff find the tube: "error lane 9, rack 2, position 14" (parts it does not know left out). */
export function slotText(location, { error = false } = {}) {
  const parts = [];
  if (location.lane !== null && location.lane !== undefined) parts.push(t(error ? "lab.place.error_lane" : "lab.place.lane", { lane: location.lane }));
  if (location.rack !== null && location.rack !== undefined) parts.push(t("lab.place.rack", { rack: location.rack }));
  if (location.position !== null && location.position !== undefined) parts.push(t("lab.place.position", { position: location.position }));
  return parts.join(t("lab.place.separator"));
}

function inTheTube(s) {
  const trip = s.transit;
  const from = trip?.from_station ? named(trip.from_station, trip.from_station_name) : named(s.ward, s.ward_name);
  const zone = heldZone(s.held);
  const words = zone ? tNodes("lab.place.tube_zone", { zone, from }) : tNodes("lab.place.tube", { from });
  const carrier = s.carrier ? el("span", { class: "code", title: t("lab.place.carrier_hint") }, t("lab.place.carrier", { carrier: s.carrier })) : null;
  return el("span", { class: "in-tube" }, ...words, carrier ? " " : null, carrier);
}

/** Where the specimen is now, in words; an error-lane tube in red with its lane, rack and position. */
export function whereNow(s) {
  const location = s.location ?? {};
  const sorter = named(location.device, location.device_name);
  if (s.status === "rejected") {
    return el("span", { class: "error-lane", "data-lane": location.lane ?? "" }, slotText(location, { error: true }), " · ", sorter);
  }
  if (s.status === "in_transit") return inTheTube(s);
  if ((s.status === "sorted" || s.status === "scanned") && (location.lane !== null || location.rack !== null)) {
    const slot = s.status === "scanned" ? t("lab.place.input", { rack: location.rack ?? "—", position: location.position ?? "—" }) : slotText(location);
    return el("span", { class: "sorted-slot" }, slot, " · ", sorter);
  }
  if (s.place) return named(s.place, s.place_name);
  return sorter;
}

/** Who holds it: a person, a device; while in the tube the tube system (its carrier is shown with the place). */
export function heldBy(s) {
  if (s.status === "in_transit" && s.custodian === s.carrier) {
    return s.transit ? named(s.transit.device, s.transit.device_name) : el("span", { text: t("lab.place.tube_system") });
  }
  return named(s.custodian, s.custodian_name);
}

/** The outlook as a badge: held (by a fault) first, then the state; "tight" is amber, never a green "on track". */
export function outlookBadge(s) {
  const reason = heldReason(s.held);
  if (reason) return el("span", { class: "badge held", "data-state": "held" }, t("lab.outlook.held", { reason }));
  const state = s.outlook?.state ?? "untargeted";
  return el("span", { class: `badge ${state}`, "data-state": state }, t(`lab.outlook.${state}`));
}

/** Slack as a cell's text: "4 min to spare" or "late by 3 min"; amber/red classes come from the outlook. */
export function slackText(slack) {
  if (slack === null || slack === undefined) return "—";
  return slack < 0 ? t("lab.slack.late", { duration: duration(-slack) }) : t("lab.slack.spare", { duration: duration(slack) });
}

export const priorityText = (priority) => (priority ? t(`lab.priority.${priority}`) : "—");
export const statusText = (status) => (status ? t(`lab.status.${status}`) : "—");

export const PRIORITIES = ["stat", "urgent", "routine"];
export const STATUSES = ["collected", "in_transit", "arrived", "scanned", "sorted", "rejected", "received", "resulted"];
