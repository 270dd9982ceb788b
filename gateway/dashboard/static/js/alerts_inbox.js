// The inbox at the top of each role's page (<section id="inbox">): the open alerts for the viewer's role, most severe
// first, each with its severity in colour and in words, "cleared, not acknowledged" and escalation marked, and an
// Acknowledge button that opens an inline form for an optional note. Importing this module mounts it.
import { getJson, postJson } from "./api.js";
import { onAlerts } from "./alert_feed.js";
import { alertTitle, isAcknowledged, isFor, isOwed, severityWord } from "./alert_text.js";
import { coalesce, el, named, timeEl } from "./format.js";
import { has, t } from "./i18n.js";
import { replaceKeepingFocus } from "./render.js";

const RANK = { critical: 3, warning: 2, info: 1 };
const NAMED_SUBJECTS = new Set(["cabinet", "device", "edge"]);
const role = document.body.dataset.role;

/** Most severe first; among equals, those still to acknowledge, then the newest. */
export function inboxOrder(a, b) {
  return (RANK[b.severity] ?? 0) - (RANK[a.severity] ?? 0)
    || Number(isAcknowledged(a)) - Number(isAcknowledged(b))
    || Date.parse(b.raised_at) - Date.parse(a.raised_at);
}

/** "raised" (active, to acknowledge), "owed" (cleared, not acknowledged), "acknowledged" or "cleared". */
export const stateOf = (a) => (isOwed(a) ? "owed" : isAcknowledged(a) && a.state !== "cleared" ? "acknowledged" : a.state);

/** Severity as colour and word; escalation and the owed acknowledgement as words too. */
export function alertMarks(a) {
  const state = stateOf(a);
  return el("div", { class: "marks" },
    el("span", { class: `severity ${a.severity}`, text: severityWord(a.severity) }),
    a.escalation_level > 0 ? el("span", { class: "escalated", title: a.escalated_at ?? "", text: t("alerts.escalated_level", { n: a.escalation_level }) }) : null,
    state === "owed" ? el("span", { class: "badge owed", text: t("alerts.state.owed") }) : null,
    state === "cleared" ? el("span", { class: "badge", text: t("alerts.state.cleared") }) : null);
}

/** What the alert is about, by name where the API gives one, and its ward. */
export function alertAbout(a) {
  const subject = NAMED_SUBJECTS.has(a.subject.kind) ? named(a.subject.id, a.subject.name) : el("span", { text: a.subject.id });
  return el("span", { class: "about" }, subject, a.ward ? [" · ", named(a.ward, a.ward_name)] : null);
}

/** Who acknowledged it, when, and their note. */
export function acknowledgement(a) {
  if (!a.acknowledged_at) return null;
  const by = a.acknowledged_by_name ? named(a.acknowledged_by, a.acknowledged_by_name) : el("span", { text: a.acknowledged_by ?? "—" });
  const note = a.details?.acknowledgement_note;
  return el("p", { class: "ack" }, t("alerts.acknowledged_by"), " ", by, " ", timeEl(a.acknowledged_at, { site: a.site }),
    note ? el("q", { class: "note", text: note }) : null);
}

/** What a root-cause alert explains (a blocked zone's lost carriers, a jammed sorter's waiting specimens). */
export function children(a) {
  const list = a.details?.children;
  if (!Array.isArray(list) || !list.length) return null;
  return el("details", { class: "children" },
    el("summary", { text: t("alerts.children", { n: list.length }) }),
    el("ul", {}, list.map((c) => el("li", {},
      el("span", { class: `severity ${c.severity}`, text: severityWord(c.severity) }), " ",
      has(`alerts.kind_name.${c.kind}`) ? t(`alerts.kind_name.${c.kind}`) : c.kind, ": ", c.subject_id))));
}

/** An inbox of the alerts `load()` answers, in `container`; `onDone` runs after an acknowledgement. */
export function inbox(container, load) {
  const drafts = new Map(); // alert id -> the note being written: kept across live refreshes

  async function send(a, form) {
    const button = form.querySelector("button[type=submit]");
    button.disabled = true;
    const note = drafts.get(a.id)?.trim();
    try {
      await postJson(`/api/v1/alerts/${a.id}/acknowledge`, note ? { note } : {});
      drafts.delete(a.id);
      await refresh();
      document.getElementById(`ack-${a.id}`)?.focus();
    } catch (error) {
      button.disabled = false;
      form.querySelector(".problem")?.remove();
      form.append(el("span", { class: "problem", role: "alert", text: error.message }));
    }
  }

  function ackForm(a) {
    const input = el("input", { id: `ack-note-${a.id}`, name: "note", maxlength: "200", autocomplete: "off", value: drafts.get(a.id) ?? "" });
    input.addEventListener("input", () => drafts.set(a.id, input.value));
    const cancel = el("button", { type: "button", class: "secondary", id: `ack-cancel-${a.id}`, text: t("alerts.ack.cancel") });
    const form = el("form", { class: "ack-form", "aria-label": t("alerts.ack.form", { title: alertTitle(a) }) },
      el("label", { for: input.id, text: t("alerts.ack.note") }), input,
      el("button", { type: "submit", class: "primary", id: `ack-send-${a.id}`, text: t("alerts.ack.confirm") }), cancel);
    form.addEventListener("submit", (event) => { event.preventDefault(); send(a, form); });
    cancel.addEventListener("click", () => { drafts.delete(a.id); render(); document.getElementById(`ack-${a.id}`)?.focus(); });
    return form;
  }

  function item(a) {
    let action = null;
    if (!isAcknowledged(a) && isFor(a, role)) {
      action = drafts.has(a.id) ? ackForm(a) : el("button", {
        type: "button", class: "secondary", id: `ack-${a.id}`, "aria-label": t("alerts.ack.button_for", { title: alertTitle(a) }),
        onclick: () => { drafts.set(a.id, ""); render(); document.getElementById(`ack-note-${a.id}`)?.focus(); },
      }, t("alerts.ack.button"));
    }
    return el("li", { class: `alert-item ${a.severity}`, "data-key": `alert-${a.id}`, "data-alert": a.id, "data-kind": a.kind, "data-state": stateOf(a) },
      alertMarks(a),
      el("p", { class: "title", text: alertTitle(a) }),
      el("p", { class: "meta" }, alertAbout(a), " · ", t("alerts.raised"), " ", timeEl(a.raised_at, { site: a.site }),
        a.cleared_at ? [" · ", t("alerts.cleared"), " ", timeEl(a.cleared_at, { site: a.site })] : null),
      acknowledgement(a),
      children(a),
      action);
  }

  let alerts = [];
  function render() {
    const items = alerts.map(item);
    replaceKeepingFocus(container, items.length ? [el("ul", { class: "alerts" }, items)] : [], t("alerts.inbox.empty"));
  }

  async function refresh() {
    alerts = (await load()).sort(inboxOrder);
    render();
  }
  return { refresh, render };
}

/** The viewer's open alerts: the gateway answers with their role's by default; older gateways answer with all. */
async function openForRole() {
  const answer = await getJson("/api/v1/alerts", { state: "open", limit: "200" });
  return answer.data.filter((a) => isFor(a, role));
}

const list = document.getElementById("inbox-list");
if (list) {
  const box = inbox(list, openForRole);
  const problem = (error) => replaceKeepingFocus(list, [el("p", { class: "problem", text: error.message })]);
  const refresh = coalesce(() => box.refresh().catch(problem), 250);
  refresh();
  onAlerts({ onOpen: refresh, onChange: refresh });
}
