// One specimen: where it is now (an error-lane tube with its lane, rack and position, in red), every custody step
// (time, place, handler), turnaround against target; live. The scan box opens the next one.
import { ApiError, getJson } from "./api.js";
import { hospitalNow } from "./clock.js";
import { coalesce, duration, el, fill, named, namedRef, table, timeEl } from "./format.js";
import { t } from "./i18n.js";
import { tNodes } from "./lab_nodes.js";
import { heldBy, outlookBadge, priorityText, statusText, whereNow } from "./lab_place.js";
import { scanBox } from "./lab_scan.js";
import { follow } from "./live.js";

scanBox();
await hospitalNow().catch(() => {}); // times on the hospital's day show without a date

const barcode = document.body.dataset.barcode;
let current = null;
let shownSteps = new Set();

function fact(key, value, attrs = {}) {
  return el("div", attrs, el("dt", { text: t(key) }), el("dd", {}, value));
}

function outlookWords(s) {
  const o = s.outlook;
  if (o.state === "met" || o.state === "missed") return t("specimen.outlook.done", { took: duration(s.tat_s), target: duration(s.target_s) });
  if (o.slack_s !== null && o.slack_s < 0) return t("specimen.outlook.late", { duration: duration(-o.slack_s) });
  return t("specimen.outlook.slack", { duration: duration(o.slack_s ?? 0) });
}

function renderNow(s) {
  const rejected = s.status === "rejected";
  fill(document.getElementById("now"), [
    el("dl", { class: "facts" },
      fact("specimen.fact.status", el("span", { class: `badge ${rejected ? "bad" : "info"}` }, statusText(s.status))),
      fact("specimen.fact.where", whereNow(s), { id: "where-now", class: rejected ? "error-lane-fact" : null }),
      fact("specimen.fact.held_by", heldBy(s)),
      fact("specimen.fact.carrier", s.carrier ? el("span", { class: "code", text: s.carrier }) : "—"),
      fact("specimen.fact.priority", priorityText(s.priority)),
      fact("specimen.fact.test", s.category ?? "—"),
      fact("specimen.fact.ward", named(s.ward, s.ward_name)),
      fact("specimen.fact.collected", timeEl(s.collected_at)),
      fact("specimen.fact.due", timeEl(s.due_at)),
      fact("specimen.fact.outlook", el("span", {}, outlookBadge(s), s.outlook.state === "untargeted" ? null : ` ${outlookWords(s)}`)),
      s.reason ? fact("specimen.fact.rejected_because", t(`specimen.reason.${s.reason}`)) : null),
  ]);
}

const eventName = (type) => t(`specimen.event.${String(type).replace(/^[a-z]+\./, "")}`);

function renderTimeline(s) {
  const items = s.timeline.map((step) => {
    const isNew = shownSteps.size > 0 && !shownSteps.has(step.event_id);
    return el("li", { class: isNew ? "new" : null, "data-type": step.type },
      el("span", {}, timeEl(step.occurred_at)),
      el("span", { class: "what", text: eventName(step.type) }),
      el("span", { class: "where" }, ...tNodes("specimen.step.where", { place: namedRef(step.place), handler: namedRef(step.handler) })));
  });
  shownSteps = new Set(s.timeline.map((step) => step.event_id));
  fill(document.getElementById("timeline"), items.length ? [el("ol", { class: "timeline" }, items)] : [], t("specimen.timeline.empty"));
}

function renderLegs(s) {
  const rows = s.legs.map((leg) => {
    const over = leg.seconds !== null && leg.expected_s !== null && leg.seconds > leg.expected_s;
    return el("tr", {},
      el("th", { scope: "row", text: t(`specimen.leg.${leg.name}`) }),
      el("td", {}, timeEl(leg.start)), el("td", {}, timeEl(leg.end)),
      el("td", { class: "num", text: duration(leg.seconds) }),
      el("td", { class: "num", text: duration(leg.expected_s) }),
      el("td", {}, leg.seconds === null ? "" : el("span", { class: `badge ${over ? "warn" : "ok"}` }, t(over ? "specimen.legs.over" : "specimen.legs.ok"))));
  });
  const legHeaders = [t("specimen.legs.col.leg"), t("specimen.legs.col.from"), t("specimen.legs.col.to"),
    { text: t("specimen.legs.col.took"), num: true }, { text: t("specimen.legs.col.expected"), num: true }, ""];
  fill(document.getElementById("legs"), [table(legHeaders, rows, { caption: t("specimen.legs.caption") })]);
  const custody = s.custodians.map((c) => el("tr", {}, el("td", {}, namedRef(c.handler)), el("td", {}, namedRef(c.place)), el("td", {}, timeEl(c.since)), el("td", {}, timeEl(c.until))));
  const custodyHeaders = ["handler", "place", "from", "until"].map((key) => t(`specimen.custody.col.${key}`));
  fill(document.getElementById("custody"), custody.length ? [table(custodyHeaders, custody, { caption: t("specimen.custody.caption") })] : [], t("specimen.custody.empty"));
}

async function load() {
  try {
    current = await getJson(`/api/v1/specimens/${encodeURIComponent(barcode)}`);
  } catch (error) {
    if (error instanceof ApiError && error.status === 404) {
      fill(document.getElementById("specimen-problem"), [el("p", { class: "problem", id: "not-found", text: t("specimen.not_yet", { barcode }) })]);
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
