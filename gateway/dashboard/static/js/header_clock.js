// The header's clock: the hospital's time (the gateway's clock, a simulated day in the demo) in the hospital's zone,
// ticking in the browser and set again from the gateway on every reconnection and every few minutes.
import { getJson } from "./api.js";
import { onAlerts } from "./alert_feed.js";
import { clock, setToday, zone } from "./time.js";

const RESYNC_MS = 5 * 60 * 1000;
const holder = document.getElementById("hospital-clock");
const face = holder?.querySelector("time");
let offset = null; // the gateway's now minus the browser's, in ms

function tick() {
  if (offset === null || !face) return;
  const now = new Date(Date.now() + offset);
  const iso = now.toISOString();
  setToday(iso);
  face.dateTime = iso;
  face.textContent = clock(iso, { seconds: false });
}

async function sync() {
  try {
    const { now } = await getJson("/api/v1/clock");
    offset = Date.parse(now) - Date.now();
    holder.dataset.zone = zone;
    tick();
  } catch {
    // no clock for this role, or the gateway is away: the clock keeps the last offset it had
  }
}

if (face) {
  sync();
  onAlerts({ onOpen: sync });
  setInterval(tick, 1000);
  setInterval(sync, RESYNC_MS);
}
