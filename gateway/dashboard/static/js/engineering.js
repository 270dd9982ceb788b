// The engineering view: every device's health, the open alerts (acknowledge them), and simulator control.
import { getJson, postJson } from "./api.js";
import { hospitalNow } from "./clock.js";
import { badge, coalesce, duration, el, fill, named, table, timeEl, words } from "./format.js";
import { follow } from "./live.js";
import { viewer } from "./shell.js";

await hospitalNow().catch(() => {}); // times on the hospital's day show without a date

const problem = (id) => (error) => fill(document.getElementById(id), [el("p", { class: "problem", text: error.message })]);

const ERROR_EVENTS = ["device.offline", "device.fault_raised"];
/** Alert subjects the reference data names (a specimen's barcode or a delivery's id has no name to show). */
const NAMED_SUBJECTS = new Set(["cabinet", "device", "edge"]);

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
    return el("tr", { "data-device": d.device, "data-state": d.state },
      el("th", { scope: "row" }, named(d.device, d.device_name),
        d.location ? el("div", { class: "empty" }, named(d.location, d.location_name)) : null),
      el("td", {}, badge(d.state)),
      el("td", {}, timeEl(d.since)),
      el("td", {}, timeEl(d.last_seen_at), el("div", { class: "empty", text: `${duration((now - Date.parse(d.last_seen_at)) / 1000)} ago` })),
      el("td", { class: "num", text: latency.length ? latency.map((r) => `${r.value.toFixed(0)} ${r.unit}`).join(", ") : "—" }),
      el("td", { class: "num", text: String(d.errors) }),
      el("td", {}, d.faults.length ? d.faults.map((f) => el("div", {}, badge(f.severity), ` ${f.code}${f.component ? ` (${f.component})` : ""}`)) : "none"),
      el("td", { text: d.status ?? d.offline_reason ?? "—" }),
      el("td", { text: d.edge }));
  });
  const headers = ["Device", "State", "Since", "Last seen", { text: "Poll latency", num: true }, { text: "Errors, 24 h", num: true }, "Active faults", "Status", "Edge"];
  fill(document.getElementById("devices"), rows.length ? [table(headers, rows, { caption: "Devices" })] : [], "No device has reported yet.");
}

async function acknowledge(alert, button) {
  button.disabled = true;
  try {
    await postJson(`/api/v1/alerts/${alert.id}/acknowledge`, { by: viewer.name, note: "acknowledged on the dashboard" });
    await loadAlerts();
  } catch (error) {
    button.disabled = false;
    button.after(el("span", { class: "problem", role: "alert", text: error.message }));
  }
}

async function loadAlerts() {
  const alerts = await getJson("/api/v1/alerts", { state: "open", limit: "100" });
  const rows = alerts.data.map((a) => {
    const button = a.state === "raised"
      ? el("button", { type: "button", class: "secondary", "aria-label": `Acknowledge alert ${words(a.kind)} on ${a.subject.id}` }, "Acknowledge")
      : null;
    button?.addEventListener("click", () => acknowledge(a, button));
    return el("tr", { "data-alert": a.id, "data-state": a.state },
      el("td", {}, badge(a.severity)),
      el("td", { text: a.kind.replaceAll(/[._]/g, " ") }),
      el("td", {}, `${a.subject.kind} `, NAMED_SUBJECTS.has(a.subject.kind) ? named(a.subject.id, a.subject.name) : a.subject.id,
        a.ward ? el("div", { class: "empty" }, named(a.ward, a.ward_name)) : null),
      el("td", { text: a.message }),
      el("td", {}, timeEl(a.raised_at)),
      el("td", {}, a.state === "acknowledged" ? el("span", {}, badge("acknowledged"), " by ", a.acknowledged_by_name ? named(a.acknowledged_by, a.acknowledged_by_name) : a.acknowledged_by) : button));
  });
  fill(document.getElementById("alerts"), rows.length ? [table(["Severity", "Kind", "About", "What to do", "Raised", ""], rows, { caption: "Open alerts" })] : [],
    "No open alerts.");
}

// -- simulators (shown only when GET /api/v1/simulation says some are attached) ---------------------------------
function select(id, label, options) {
  return el("div", {}, el("label", { for: id, text: label }),
    el("select", { id, name: id }, options.map((o) => el("option", { value: o, text: o }))));
}

function scenarioForm(sim) {
  const form = el("form", { "data-simulator": sim.simulator },
    select(`scenario-${sim.simulator}`, "Scenario", sim.scenarios),
    el("button", { class: "primary", type: "submit" }, "Start scenario"),
    el("span", { role: "status", class: "result" }));
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    send(form, "/api/v1/simulation/scenarios", { simulator: sim.simulator, scenario: form.elements[0].value });
  });
  return form;
}

function faultForm(sim) {
  const faultPick = select(`fault-${sim.simulator}`, "Fault", sim.faults.map((f) => f.fault));
  const targetPick = select(`target-${sim.simulator}`, "Device", sim.faults[0]?.targets ?? []);
  const minutes = el("div", {}, el("label", { for: `minutes-${sim.simulator}`, text: "Minutes" }),
    el("input", { id: `minutes-${sim.simulator}`, type: "number", min: "1", step: "1", value: "10", required: true }));
  const form = el("form", { "data-simulator": sim.simulator }, faultPick, targetPick, minutes,
    el("button", { class: "primary", type: "submit" }, "Inject fault"), el("span", { role: "status", class: "result" }));
  const faultSelect = faultPick.querySelector("select"), targetSelect = targetPick.querySelector("select");
  faultSelect.addEventListener("change", () => {
    const offer = sim.faults.find((f) => f.fault === faultSelect.value);
    targetSelect.replaceChildren(...(offer?.targets ?? []).map((t) => el("option", { value: t, text: t })));
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
    result.textContent = record.status === "refused" ? `refused: ${record.reason}` : `${record.status}${record.reason ? `: ${record.reason}` : ""}`;
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
    el("p", {}, sim.scenario ? `Playing ${sim.scenario.name} at ${sim.scenario.speed}× since ` : "No scenario running.", sim.scenario ? timeEl(sim.scenario.started_at) : null),
    sim.scenarios.length ? scenarioForm(sim) : null,
    sim.faults.length ? faultForm(sim) : null,
    sim.active_faults.length
      ? table(["Active fault", "Device", "Until", "From"], sim.active_faults.map((f) => el("tr", {}, el("td", { text: f.fault }), el("td", { text: f.target }), el("td", {}, timeEl(f.ends_at)), el("td", { text: f.source }))), { caption: "Active faults" })
      : el("p", { class: "empty", text: "No active fault." }))));
}

const refreshDevices = coalesce(() => loadDevices().catch(problem("devices")), 500);
const refreshAlerts = coalesce(() => loadAlerts().catch(problem("alerts")), 250);
const refreshSimulation = coalesce(() => loadSimulation().catch(problem("simulation-body")), 500);
const refreshAll = () => { refreshDevices(); refreshAlerts(); refreshSimulation(); };

refreshAll();
follow({}, {
  onOpen: refreshAll,
  onChange: (change) => {
    if (change.type.startsWith("alert.")) refreshAlerts();
    if (change.type.startsWith("device.") || change.subject_kind === "device") refreshDevices();
  },
});
setInterval(refreshDevices, 15000); // last seen and telemetry move without events
setInterval(refreshSimulation, 15000);
