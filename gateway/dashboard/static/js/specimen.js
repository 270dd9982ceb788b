// One specimen: where it is now, every custody step (time, place, handler), turnaround against target; live.
import { ApiError, getJson } from "./api.js";
import { hospitalNow } from "./clock.js";
import { badge, carried, coalesce, duration, el, fill, named, namedRef, table, timeEl, words } from "./format.js";
import { follow } from "./live.js";

await hospitalNow().catch(() => {}); // times on the hospital's day show without a date

const barcode = document.body.dataset.barcode;
let current = null;
let shownSteps = new Set();

function fact(term, value) {
  return el("div", {}, el("dt", { text: term }), el("dd", {}, value));
}

function renderNow(s) {
  const o = s.outlook;
  const late = o.slack_s !== null && o.slack_s < 0;
  const outlook = o.state === "met" || o.state === "missed"
    ? `${words(o.state)}: ${duration(s.tat_s)} against ${duration(s.target_s)}`
    : o.state === "untargeted" ? "no target" : `${late ? "late by" : "slack"} ${duration(Math.abs(o.slack_s ?? 0))}`;
  fill(document.getElementById("now"), [
    el("dl", { class: "facts" },
      fact("Status", badge(s.status, "info")),
      fact("Where now", s.place ? carried(s.place, s.place_name, s) : named(s.location?.device, s.location?.device_name)),
      fact("Held by", carried(s.custodian, s.custodian_name, s)),
      fact("Carrier", s.carrier ?? "—"),
      fact("Priority", s.priority ?? "—"),
      fact("Test", s.category ?? "—"),
      fact("Ward", named(s.ward, s.ward_name)),
      fact("Collected", timeEl(s.collected_at)),
      fact("Due", timeEl(s.due_at)),
      fact("Outlook", el("span", {}, badge(o.state), " ", outlook)),
      s.reason ? fact("Rejected because", words(s.reason)) : null),
  ]);
}

function renderTimeline(s) {
  const items = s.timeline.map((step) => {
    const isNew = shownSteps.size > 0 && !shownSteps.has(step.event_id);
    return el("li", { class: isNew ? "new" : null, "data-type": step.type },
      el("span", {}, timeEl(step.occurred_at)),
      el("span", { class: "what", text: words(step.type) }),
      el("span", { class: "where" }, "at ", namedRef(step.place), " · by ", namedRef(step.handler)));
  });
  shownSteps = new Set(s.timeline.map((step) => step.event_id));
  fill(document.getElementById("timeline"), items.length ? [el("ol", { class: "timeline" }, items)] : [], "No steps yet.");
}

function renderLegs(s) {
  const rows = s.legs.map((leg) => {
    const over = leg.seconds !== null && leg.expected_s !== null && leg.seconds > leg.expected_s;
    return el("tr", {},
      el("th", { scope: "row", text: words(leg.name) }),
      el("td", {}, timeEl(leg.start)), el("td", {}, timeEl(leg.end)),
      el("td", { class: "num", text: duration(leg.seconds) }),
      el("td", { class: "num", text: duration(leg.expected_s) }),
      el("td", {}, leg.seconds === null ? "" : badge(over ? "over" : "ok", over ? "warn" : "ok")));
  });
  fill(document.getElementById("legs"), [table(["Leg", "From", "To", { text: "Took", num: true }, { text: "Expected", num: true }, ""], rows, { caption: "Legs against their expected times" })]);
  const custody = s.custodians.map((c) => el("tr", {}, el("td", {}, namedRef(c.handler)), el("td", {}, namedRef(c.place)), el("td", {}, timeEl(c.since)), el("td", {}, timeEl(c.until))));
  fill(document.getElementById("custody"), custody.length ? [table(["Handler", "Place", "From", "Until"], custody, { caption: "Chain of custody" })] : [], "Nobody has handled it yet.");
}

async function load() {
  try {
    current = await getJson(`/api/v1/specimens/${encodeURIComponent(barcode)}`);
  } catch (error) {
    if (error instanceof ApiError && error.status === 404) {
      fill(document.getElementById("specimen-problem"), [el("p", { class: "problem", id: "not-found", text: `No specimen ${barcode} yet: ${error.message}. The page updates as soon as it is scanned.` })]);
      return;
    }
    throw error;
  }
  document.getElementById("specimen-problem").replaceChildren();
  renderNow(current);
  renderTimeline(current);
  renderLegs(current);
}

const refresh = coalesce(() => load().catch((error) => fill(document.getElementById("specimen-problem"), [el("p", { class: "problem", text: error.message })])), 300);
refresh();
follow({}, {
  onOpen: refresh,
  onChange: (change) => {
    // Its own events, and carrier trips (its carrier is known only once it is dispatched) until it is resulted.
    const mine = change.subject_kind === "specimen" && change.subject_id === barcode;
    const itsCarrier = change.subject_kind === "carrier" && (!current || current.carrier === null || current.carrier === change.subject_id);
    if (mine || (itsCarrier && current?.status !== "resulted")) refresh();
  },
});
setInterval(refresh, 60000); // the outlook moves with the clock
