// Hospital time: the gateway's clock, which during a simulated day (the demo) is not the browser's.
import { getJson } from "./api.js";
import { setToday } from "./format.js";

/** The gateway's now as a Date; also makes "today" in time labels the hospital's day. */
export async function hospitalNow() {
  const { now } = await getJson("/api/v1/clock");
  setToday(now);
  return new Date(now);
}

/** `hours` before the hospital's now, as an ISO instant for `since` parameters. */
export async function hoursAgo(hours) {
  const now = await hospitalNow();
  return new Date(now.getTime() - hours * 3600 * 1000).toISOString();
}
