import "./alerts_inbox.js"; // the role's alert inbox (<section id="inbox">)
// The lab view: a barcode box for scanners and people, the live board of specimens that need attention,
// and turnaround charts for the last 24 h.
import { getJson } from "./api.js";
import { hospitalNow } from "./clock.js";
import { turnaroundChart } from "./charts.js";
import { badge, carried, coalesce, duration, el, fill, named, table, timeEl, words } from "./format.js";
import { follow } from "./live.js";


// The box has `autofocus` and the form works without this script (GET /lab?barcode=...): keystrokes that come
// before the modules have loaded are not lost.
const box = document.getElementById("barcode");
if (document.activeElement !== box) box.focus();
hospitalNow().catch(() => {}); // times on the hospital's day show without a date
document.getElementById("scan").addEventListener("submit", (event) => {
  // A scanner types the barcode fast and presses Enter; a person does the same, more slowly.
  event.preventDefault();
  const barcode = box.value.trim();
  if (barcode) location.assign(`/lab/specimens/${encodeURIComponent(barcode)}`);
});

const BOARD_ROWS = 30;
const URGENCY = { overdue: 0, at_risk: 1, on_track: 2, untargeted: 3 };

function boardRow(s) {
  const state = s.outlook.state;
  return el(
    "tr",
    { "data-barcode": s.barcode },
    el("td", {}, el("a", { href: `/lab/specimens/${encodeURIComponent(s.barcode)}`, text: s.barcode })),
    // A specimen a device fault holds (a blocked tube zone, a jammed sorter) says so, whatever its outlook.
    el("td", {}, s.held ? badge(`held: ${s.held.reason}`, "bad") : badge(state)),
    el("td", { text: s.priority ?? "—" }),
    el("td", { text: words(s.status) }),
    el("td", {}, carried(s.place, s.place_name, s)),
    el("td", {}, carried(s.custodian, s.custodian_name, s)),
    el("td", {}, named(s.ward, s.ward_name)),
    el("td", {}, timeEl(s.due_at)),
    el("td", { class: "num", text: duration(s.outlook.slack_s) }),
  );
}

/** A list's total as people read it: "10000+" when the gateway stopped counting (`total_capped`), "~" for its estimate. */
function howMany(list) {
  if (list.total_capped) return `${list.count}+`;
  return list.total_is_estimate ? `~${list.count}` : `${list.count}`;
}

async function loadBoard() {
  const [overdue, atRisk, moving] = await Promise.all([
    getJson("/api/v1/specimens", { overdue: "true", limit: "100" }),
    getJson("/api/v1/specimens", { at_risk: "true", limit: "100" }),
    getJson("/api/v1/specimens", { status: "in_transit", sort: "due", limit: "100" }),
  ]);
  const byBarcode = new Map();
  for (const s of [...overdue.data, ...atRisk.data, ...moving.data]) byBarcode.set(s.barcode, s);
  const urgent = [...byBarcode.values()].sort(
    (a, b) =>
      (URGENCY[a.outlook.state] ?? 4) - (URGENCY[b.outlook.state] ?? 4) ||
      (a.outlook.slack_s ?? Infinity) - (b.outlook.slack_s ?? Infinity) ||
      String(a.due_at).localeCompare(String(b.due_at)),
  );
  const headers = ["Barcode", "Outlook", "Priority", "Status", "Where", "Held by", "Ward", "Due", { text: "Slack", num: true }];
  const rows = urgent.slice(0, BOARD_ROWS).map(boardRow);
  const summary = el("p", { id: "board-summary" },
    `${howMany(overdue)} overdue · ${howMany(atRisk)} at risk · ${howMany(moving)} in transit`,
    urgent.length > BOARD_ROWS ? ` · the ${BOARD_ROWS} most urgent shown` : "");
  fill(document.getElementById("board"), rows.length ? [summary, table(headers, rows, { caption: "Specimens needing attention" })] : [],
    "Nothing overdue, at risk or in transit.");
}

async function loadCharts() {
  const [byPriority, byHour] = await Promise.all([
    getJson("/api/v1/turnaround", { group_by: "priority" }),
    getJson("/api/v1/turnaround", { group_by: "hour" }),
  ]);
  const order = { stat: 0, urgent: 1, routine: 2 };
  const priorities = [...byPriority.groups].sort((a, b) => (order[a.key] ?? 9) - (order[b.key] ?? 9));
  fill(document.getElementById("tat-priority"), [turnaroundChart(priorities, { label: "Turnaround p50, p90 and share on time by priority" })]);
  fill(document.getElementById("tat-hour"), [turnaroundChart(byHour.groups, { label: "Turnaround p50, p90 and share on time by UTC hour of collection" })]);
}

const showProblem = (id) => (error) => fill(document.getElementById(id), [el("p", { class: "problem", text: error.message })]);
const refreshBoard = coalesce(() => loadBoard().catch(showProblem("board")), 1000);
const refreshCharts = coalesce(() => loadCharts().catch(showProblem("tat-priority")), 5000);

refreshBoard();
loadCharts().catch(showProblem("tat-priority"));
follow({}, {
  onOpen: refreshBoard,
  onChange: (change) => {
    if (change.subject_kind === "specimen" || change.subject_kind === "carrier" || change.type.startsWith("alert.")) refreshBoard();
    if (change.type === "specimen.resulted") refreshCharts();
  },
});
// Outlooks move with the clock even when nothing happens: re-read the board every minute.
setInterval(refreshBoard, 60000);
