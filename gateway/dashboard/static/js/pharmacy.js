import "./alerts_inbox.js"; // the role's alert inbox (<section id="inbox">)
// The pharmacy view: deliveries in progress and a search, robots on the node graph, every cabinet at a glance and
// one in detail, the pick list; live.
import { hospitalNow } from "./clock.js";
import { coalesce, el, fill } from "./format.js";
import { follow } from "./live.js";
import { loadCabinets } from "./pharmacy_cabinets.js";
import { loadDeliveries, searchDeliveries } from "./pharmacy_deliveries.js";
import { loadPickList } from "./pharmacy_picklist.js";
import { loadRobots } from "./pharmacy_robots.js";

await hospitalNow().catch(() => {}); // times on the hospital's day show without a date

const $ = (id) => document.getElementById(id);
const problem = (id) => (error) => fill($(id), [el("p", { class: "problem", text: error.message })]);

const search = $("delivery-q");
search.value = new URLSearchParams(location.search).get("q") ?? "";
const query = () => search.value.trim();
const showDeliveries = () => (query() ? searchDeliveries(query(), $("deliveries")) : loadDeliveries($("deliveries")));
$("delivery-search").addEventListener("submit", (event) => {
  event.preventDefault();
  const url = new URL(location.href);
  if (query()) url.searchParams.set("q", query()); else url.searchParams.delete("q");
  history.replaceState(null, "", url);
  $("delivery-clear").hidden = !query();
  refreshDeliveries();
});
$("delivery-clear").hidden = !query();
$("delivery-clear").addEventListener("click", () => { search.value = ""; $("delivery-search").requestSubmit(); });

const refreshDeliveries = coalesce(() => showDeliveries().catch(problem("deliveries")), 250);
const refreshRobots = coalesce(() => loadRobots($("robots")).catch(problem("robots")), 1000);
const refreshCabinets = coalesce(() => loadCabinets($("cabinets"), $("cabinet")).catch(problem("cabinets")), 1000);
const refreshPicks = coalesce(() => loadPickList($("picklist")).catch(problem("picklist")), 1000);
const refreshAll = () => { refreshDeliveries(); refreshRobots(); refreshCabinets(); refreshPicks(); };

refreshAll();
follow({}, {
  onOpen: refreshAll,
  onChange: (change) => {
    if (change.subject_kind === "delivery") { refreshDeliveries(); refreshRobots(); }
    if (change.subject_kind === "device") refreshRobots();
    if (change.subject_kind === "cabinet") { refreshCabinets(); refreshPicks(); }
  },
});
// Robots report position and battery, fridges their temperature, as telemetry, which the stream does not carry.
setInterval(refreshRobots, 10000);
setInterval(refreshCabinets, 30000);
