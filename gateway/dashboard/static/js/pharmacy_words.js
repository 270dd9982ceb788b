// The pharmacy's words in the page's language: delivery statuses, robot states and tasks, doors, alarms.
import { el } from "./format.js";
import { t } from "./i18n.js";

const STATUS = {
  created: () => t("pharmacy.status.created"), assigned: () => t("pharmacy.status.assigned"),
  loaded: () => t("pharmacy.status.loaded"), departed: () => t("pharmacy.status.departed"),
  arrived: () => t("pharmacy.status.arrived"), handed_over: () => t("pharmacy.status.handed_over"),
  stocked: () => t("pharmacy.status.stocked"), failed: () => t("pharmacy.status.failed"),
};
const TASK = {
  driving: () => t("pharmacy.task.driving"), waiting: () => t("pharmacy.task.waiting"),
  charging: () => t("pharmacy.task.charging"), blocked: () => t("pharmacy.task.blocked"),
  paused: () => t("pharmacy.task.paused"), fault: () => t("pharmacy.task.fault"), idle: () => t("pharmacy.task.idle"),
};
const STATE = { online: () => t("pharmacy.state.online"), offline: () => t("pharmacy.state.offline"), unknown: () => t("pharmacy.state.unknown") };
const DOOR = {
  open: () => t("pharmacy.door.open"), closed: () => t("pharmacy.door.closed"),
  ajar: () => t("pharmacy.door.ajar"), unknown: () => t("pharmacy.door.unknown"),
};
const ALARM = {
  door_ajar: () => t("pharmacy.alarm.door_ajar"), temperature_out_of_range: () => t("pharmacy.alarm.temperature_out_of_range"),
  access_denied: () => t("pharmacy.alarm.access_denied"),
};
const PRIORITY = { stat: () => t("pharmacy.priority.stat"), routine: () => t("pharmacy.priority.routine") };

const say = (words, value) => (value === null || value === undefined ? "—" : words[value]?.() ?? String(value).replaceAll("_", " "));

export const statusText = (value) => say(STATUS, value);
export const taskText = (value) => say(TASK, value);
export const stateText = (value) => say(STATE, value);
export const doorText = (value) => say(DOOR, value);
export const alarmText = (value) => say(ALARM, value);
export const priorityText = (value) => say(PRIORITY, value);

/** A badge whose class is the value (its colour) and whose text is the value in the page's language. */
export const pill = (text, cls) => el("span", { class: `badge ${cls ?? ""}`, text });

const TASK_CLASS = { driving: "info", charging: "info", waiting: "warn", paused: "warn", blocked: "bad", fault: "bad", idle: "" };

/** A robot's task state as a badge ("—" while it is not online: no stale state). */
export const taskBadge = (task) => (task ? pill(taskText(task), `task ${TASK_CLASS[task] ?? ""}`) : el("span", { text: "—" }));

/** Battery as "64 %", amber below 30 %, red below 15 %. */
export function battery(pct) {
  if (pct === null || pct === undefined) return el("span", { text: "—" });
  const cls = pct < 15 ? "bad" : pct < 30 ? "warn" : null;
  return el("span", { class: cls ? `battery ${cls}` : "battery", text: `${Math.round(pct)} %` });
}

/** "8.4 °C" with one decimal. */
export const celsius = (value) => (value === null || value === undefined ? "—" : `${Number(value).toFixed(1)} °C`);
