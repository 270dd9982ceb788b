// Hospital time: instants shown in the site's time zone (the page's data-tz, a site's own in data-site-zones), the
// time alone on the hospital's today and with the date on another day, in the page's language.
import { language } from "./i18n.js";

const body = document.body?.dataset ?? {};
/** The hospital's IANA time zone, as the gateway's settings give it (WARDLINK_TIME_ZONE). */
export const zone = body.tz || "UTC";
const siteZones = body.siteZones ? JSON.parse(body.siteZones) : {};

/** The time zone of `site`: its own (WARDLINK_SITE_TIME_ZONES), else the hospital's. */
export const zoneOf = (site) => (site && siteZones[site]) || zone;

const formats = new Map();
function format(tz, options) {
  const key = `${tz}|${JSON.stringify(options)}`;
  if (!formats.has(key)) formats.set(key, new Intl.DateTimeFormat(language, { timeZone: tz, hourCycle: "h23", ...options }));
  return formats.get(key);
}

/** The calendar day of `date` in `tz`, as "YYYY-MM-DD" (for comparing days, never shown). */
export function dayIn(date, tz = zone) {
  const parts = Object.fromEntries(format(tz, { year: "numeric", month: "2-digit", day: "2-digit" })
    .formatToParts(date).map((p) => [p.type, p.value]));
  return `${parts.year}-${parts.month}-${parts.day}`;
}

let today = dayIn(new Date());

/** The hospital's day is the day of the gateway's now (a simulated day in the demo), in the hospital's zone. */
export function setToday(iso) {
  today = dayIn(new Date(iso));
}

/** "08:03:12" on the hospital's today, "6 Dec 08:03" (zh-CN "12月6日 08:03") on another day, with the year when
 * that is not this year; "—" for nothing. `site` picks that site's zone. */
export function clock(iso, { seconds = true, site } = {}) {
  if (!iso) return "—";
  const date = new Date(iso);
  const tz = zoneOf(site);
  const day = dayIn(date, tz);
  if (day === today) return format(tz, { hour: "2-digit", minute: "2-digit", second: seconds ? "2-digit" : undefined }).format(date);
  const year = day.slice(0, 4) !== today.slice(0, 4) ? "numeric" : undefined;
  return format(tz, { year, month: "short", day: "numeric", hour: "2-digit", minute: "2-digit" }).format(date);
}

/** The instant with its date and seconds in the site's zone, whatever the day (audit entries, logins). */
export function dated(iso, { site } = {}) {
  return format(zoneOf(site), { year: "numeric", month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit", second: "2-digit" })
    .format(new Date(iso));
}

/** The full instant with its date, zone and seconds, for a title on hover. */
export function fullTime(iso, { site } = {}) {
  return `${dated(iso, { site })} (${zoneOf(site)})`;
}

/** How far `tz`'s wall clock is ahead of UTC at `ms`, in ms. */
function offsetAt(ms, tz) {
  const p = Object.fromEntries(format(tz, { year: "numeric", month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit", second: "2-digit" })
    .formatToParts(new Date(ms)).map((part) => [part.type, part.value]));
  return Date.UTC(+p.year, +p.month - 1, +p.day, +p.hour % 24, +p.minute, +p.second) - Math.floor(ms / 1000) * 1000;
}

/** A wall-clock time typed in a form ("2026-12-06T08:30", a datetime-local value) read in `tz`, as an ISO instant;
 * null for nothing. */
export function instantIn(local, tz = zone) {
  if (!local) return null;
  const wall = Date.parse(`${local.length === 16 ? `${local}:00` : local}Z`);
  if (Number.isNaN(wall)) return null;
  let ms = wall - offsetAt(wall, tz);
  ms = wall - offsetAt(ms, tz); // once more, for a time near a change of the zone's offset
  return new Date(ms).toISOString();
}

/** The wall-clock time in the hospital's zone at which UTC hour `utcHour` (0-23) starts on the hospital's today:
 * "15:00" for UTC hour 7 in Asia/Shanghai, "12:30" for 7 in Asia/Kolkata (the API groups by UTC hour). */
export function localHour(utcHour, tz = zone) {
  const [year, month, day] = today.split("-").map(Number);
  const at = new Date(Date.UTC(year, month - 1, day, Number(utcHour)));
  return format(tz, { hour: "2-digit", minute: "2-digit" }).format(at);
}
