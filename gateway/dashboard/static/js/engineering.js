// The engineering view: the engineers' alert inbox, every device's health, and simulator control.
import "./alerts_inbox.js";
import { getJson, postJson } from "./api.js";
import { hospitalNow } from "./clock.js";
import { badge, coalesce, duration, el, named, table, timeEl } from "./format.js";
import { t } from "./i18n.js";
import { follow } from "./live.js";
import { replaceKeepingFocus as fill } from "./render.js";

await hospitalNow().catch(() => {}); // times on the hospital's day show without a date

const problem = (id) => (error) => fill(document.getElementById(id), [el("p", { class: "problem", text: error.message })]);

const ERROR_EVENTS = ["device.offline", "device.fault_raised"];

/** The latest readings whose metric name matches `pattern` (e.g. a poll latency the edge reports). */
function reading(device, pattern) {
  return device.readings.filter((r) => pattern.test(r.metric));
}

/** Offline spells and faults raised in the last 24 h, from the device's events. */
async function errorCount(device, since) {
  const params = new URLSearchParams({ device: device.device, site: device.site, since, limit: "1" });
  for (const type of ERROR_EVENTS) params.append("type", type);
  const answer = await getJson(`/api/v1/events?${params}`);
  return answer.count;
}

async function loadDevices() {
  const [list, now] = await Promise.all([getJson("/api/v1/devices", { limit: "200" }), hospitalNow()]);
  const since = new Date(now.getTime() - 24 * 3600 * 1000).toISOString();
  const details = await Promise.all(
    list.data.map(async (d) => ({
      ...(await getJson(`/api/v1/devices/${encodeURIComponent(d.device)}`, { site: d.site })),
      errors: await errorCount(d, since),
    })),
  );
  const rows = details.map((d) => {
    const latency = reading(d, /latency/);
    return el("tr", { "data-key": `device-${d.site}-${d.device}`, "data-device": d.device, "data-state": d.state },
      el("th", { scope: "row" }, named(d.device, d.device_name),
        d.location ? el("div", { class: "empty" }, named(d.location, d.location_name)) : null),
      el("td", {}, badge(d.state)),
      el("td", {}, timeEl(d.since)),
      el("td", {}, timeEl(d.last_seen_at), el("div", { class: "empty", text: t("engineering.devices.ago", { duration: duration((now - Date.parse(d.last_seen_at)) / 1000) }) })),
      el("td", { class: "num", text: latency.length ? latency.map((r) => `${r.value.toFixed(0)} ${r.unit}`).join(", ") : "—" }),
      el("td", { class: "num", text: String(d.errors) }),
      el("td", {}, d.faults.length ? d.faults.map((f) => el("div", {}, badge(f.severity), ` ${f.code}${f.component ? ` (${f.component})` : ""}`)) : t("engineering.devices.no_faults")),
      el("td", { text: d.status ?? d.offline_reason ?? "—" }),
      el("td", { text: d.edge }));
  });
  const headers = ["device", "state", "since", "last_seen", { text: "latency", num: true }, { text: "errors", num: true }, "faults", "status", "edge"]
    .map((h) => (typeof h === "string" ? t(`engineering.devices.col.${h}`) : { ...h, text: t(`engineering.devices.col.${h.text}`) }));
  fill(document.getElementById("devices"), rows.length ? [table(headers, rows, { caption: t("engineering.devices.title") })] : [], t("engineering.devices.none"));
}

// -- simulators (shown only when GET /api/v1/simulation says some are attached) ---------------------------------
function select(id, label, options) {
  return el("div", {}, el("label", { for: id, text: label }),
    el("select", { id, name: id }, options.map((o) => el("option", { value: o, text: o }))));
}

function scenarioForm(sim) {
  const form = el("form", { "data-simulator": sim.simulator },
    select(`scenario-${sim.simulator}`, t("engineering.sim.scenario"), sim.scenarios),
    el("button", { class: "primary", type: "submit", id: `start-${sim.simulator}` }, t("engineering.sim.start")),
    el("span", { role: "status", class: "result" }));
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    send(form, "/api/v1/simulation/scenarios", { simulator: sim.simulator, scenario: form.elements[0].value });
  });
  return form;
}

function faultForm(sim) {
  const faultPick = select(`fault-${sim.simulator}`, t("engineering.sim.fault"), sim.faults.map((f) => f.fault));
  const targetPick = select(`target-${sim.simulator}`, t("engineering.sim.device"), sim.faults[0]?.targets ?? []);
  const minutes = el("div", {}, el("label", { for: `minutes-${sim.simulator}`, text: t("engineering.sim.minutes") }),
    el("input", { id: `minutes-${sim.simulator}`, type: "number", min: "1", step: "1", value: "10", required: true }));
  const form = el("form", { "data-simulator": sim.simulator }, faultPick, targetPick, minutes,
    el("button", { class: "primary", type: "submit", id: `inject-${sim.simulator}` }, t("engineering.sim.inject")), el("span", { role: "status", class: "result" }));
  const faultSelect = faultPick.querySelector("select"), targetSelect = targetPick.querySelector("select");
  faultSelect.addEventListener("change", () => {
    const offer = sim.faults.find((f) => f.fault === faultSelect.value);
    targetSelect.replaceChildren(...(offer?.targets ?? []).map((target) => el("option", { value: target, text: target })));
  });
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    send(form, "/api/v1/simulation/faults", {
      simulator: sim.simulator, fault: faultSelect.value, target: targetSelect.value, minutes: Number(form.querySelector("input").value),
    });
  });
  return form;
}

async function send(form, path, body) {
  const result = form.querySelector(".result");
  const button = form.querySelector("button");
  button.disabled = true;
  try {
    const record = await postJson(path, body);
    const status = t(`engineering.sim.status.${record.status === "refused" ? "refused" : "other"}`, { status: record.status });
    result.textContent = record.reason ? t("engineering.sim.because", { status, reason: record.reason }) : status;
    result.className = `result badge ${record.status === "refused" ? "bad" : "ok"}`;
    refreshSimulation();
  } catch (error) {
    result.textContent = error.message;
    result.className = "result problem";
  } finally {
    button.disabled = false;
  }
}

async function loadSimulation() {
  const panel = document.getElementById("simulation");
  let answer;
  try {
    answer = await getJson("/api/v1/simulation");
  } catch {
    panel.hidden = true; // simulation control is off (404) or this gateway has no simulation link
    return;
  }
  panel.hidden = !answer.attached;
  if (!answer.attached) return;
  fill(document.getElementById("simulation-body"), answer.simulators.filter((s) => s.online).map((sim) => el("div", { class: "simulator" },
    el("h3", { text: `${sim.simulator}${sim.description ? `: ${sim.description}` : ""}` }),
    el("p", {}, sim.scenario ? t("engineering.sim.playing", { name: sim.scenario.name, speed: sim.scenario.speed }) : t("engineering.sim.idle"),
      sim.scenario ? [" ", timeEl(sim.scenario.started_at)] : null),
    sim.scenarios.length ? scenarioForm(sim) : null,
    sim.faults.length ? faultForm(sim) : null,
    sim.active_faults.length
      ? table(["fault", "device", "until", "from"].map((h) => t(`engineering.sim.col.${h}`)),
        sim.active_faults.map((f) => el("tr", { "data-key": `fault-${f.fault}-${f.target}` }, el("td", { text: f.fault }), el("td", { text: f.target }), el("td", {}, timeEl(f.ends_at)), el("td", { text: f.source }))),
        { caption: t("engineering.sim.col.fault") })
      : el("p", { class: "empty", text: t("engineering.sim.no_fault") }))));
}

const refreshDevices = coalesce(() => loadDevices().catch(problem("devices")), 500);
const refreshSimulation = coalesce(() => loadSimulation().catch(problem("simulation-body")), 500);
const refreshAll = () => { refreshDevices(); refreshSimulation(); };

refreshAll();
follow({}, {
  onOpen: refreshAll,
  onChange: (change) => {
    if (change.type.startsWith("device.") || change.subject_kind === "device") refreshDevices();
  },
});
setInterval(refreshDevices, 15000); // last seen and telemetry move without events
setInterval(refreshSimulation, 15000);
