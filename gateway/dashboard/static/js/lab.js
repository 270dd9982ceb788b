import "./alerts_inbox.js"; // the role's alert inbox (<section id="inbox">)
// The lab view: the scan box, the board of specimens that need attention (with its filters), the STAT list, and
// turnaround charts for the last 24 h against their targets; all live.
import { getJson } from "./api.js";
import { hospitalNow } from "./clock.js";
import { turnaroundChart } from "./charts.js";
import { coalesce, el, fill } from "./format.js";
import { t } from "./i18n.js";
import { board } from "./lab_board.js";
import { priorityText } from "./lab_place.js";
import { scanBox } from "./lab_scan.js";
import { loadStatList } from "./lab_stat.js";
import { follow } from "./live.js";
import { localHour } from "./time.js";

// The box has `autofocus` and the form works without this script (GET /lab?barcode=...): keystrokes that come
// before the modules have loaded are not lost.
scanBox();
hospitalNow().catch(() => {}); // times on the hospital's day show without a date

const PRIORITY_ORDER = { stat: 0, urgent: 1, routine: 2 };

async function loadCharts() {
  const [byPriority, byHour] = await Promise.all([
    getJson("/api/v1/turnaround", { group_by: "priority" }),
    getJson("/api/v1/turnaround", { group_by: "hour" }),
  ]);
  const priorities = [...byPriority.groups].sort((a, b) => (PRIORITY_ORDER[a.key] ?? 9) - (PRIORITY_ORDER[b.key] ?? 9));
  fill(document.getElementById("tat-priority"), [turnaroundChart(priorities,
    { title: t("charts.title.priority"), goal: byPriority.on_time_goal, groupName: (g) => priorityText(g.key) })]);
  // The API groups by UTC hour; people read the hour in the hospital's zone, in the order of their day.
  const hours = byHour.groups.map((g) => ({ ...g, label: localHour(g.key) })).sort((a, b) => a.label.localeCompare(b.label));
  fill(document.getElementById("tat-hour"), [turnaroundChart(hours,
    { title: t("charts.title.hour"), goal: byHour.on_time_goal, groupName: (g) => g.label })]);
}

const showProblem = (id) => (error) => fill(document.getElementById(id), [el("p", { class: "problem", text: error.message })]);
// The board answers "what must I do now?": the charts are asked for once its first lists are in, not beside them.
let chartsAsked = false;
const chartsAfterBoard = () => {
  if (!chartsAsked) {
    chartsAsked = true;
    loadCharts().catch(showProblem("tat-priority"));
  }
};
const refreshBoard = coalesce(() => loadBoard().catch(showProblem("board")).finally(chartsAfterBoard), 1000);
const loadBoard = board(refreshBoard);
const refreshStat = coalesce(() => loadStatList().catch(showProblem("stat-list")), 1000);
const refreshCharts = coalesce(() => loadCharts().catch(showProblem("tat-priority")), 5000);
const refreshLists = () => {
  refreshBoard();
  refreshStat();
};

refreshLists();
follow({}, {
  onOpen: refreshLists,
  onChange: (change) => {
    if (change.subject_kind === "specimen" || change.subject_kind === "carrier" || change.type.startsWith("alert.")) refreshLists();
    if (change.type === "specimen.resulted") refreshCharts();
  },
});
// Outlooks move with the clock even when nothing happens: re-read the lists every minute.
setInterval(refreshLists, 60000);
