// The robots' node graph in SVG: one panel per floor side by side (floors share x/y), robots with battery. Node
// labels that would overlap another label or a node move below, above or to the left of their node.
import { el, nameOr } from "./format.js";
import { t } from "./i18n.js";

const NS = "http://www.w3.org/2000/svg";
const LOW_BATTERY = 20;
const CHAR_W = 6.4; // px per character of a label at the map's font size
const LABEL_H = 12;

const overlaps = (a, b) => a.x < b.x + b.w && b.x < a.x + a.w && a.y < b.y + b.h && b.y < a.y + a.h;

/** Where a node's label goes: right of it unless that box overlaps a label or node already placed or leaves its
 * floor's panel (`left`..`right`), then below, above, left; the first that fits (or right, if none does). `taken`
 * collects the boxes placed so far. */
function labelSpot(x, y, text, taken, [left, right]) {
  const w = text.length * CHAR_W;
  const inside = (lx) => Math.min(Math.max(lx, left + 2), right - 2 - w); // below or above: slid into the panel
  const spots = [[x + 8, y + 4], [inside(x - w / 2), y + 20], [inside(x - w / 2), y - 10], [x - w - 8, y + 4]];
  const box = ([lx, ly]) => ({ x: lx, y: ly - LABEL_H + 2, w, h: LABEL_H });
  const fits = (spot) => spot[0] >= left + 2 && spot[0] + w <= right - 2 && !taken.some((other) => overlaps(box(spot), other));
  const free = spots.find(fits) ?? spots[0];
  taken.push(box(free));
  return free;
}

function svg(tag, attrs = {}, ...children) {
  const node = document.createElementNS(NS, tag);
  for (const [key, value] of Object.entries(attrs)) node.setAttribute(key, String(value));
  for (const child of children) node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  return node;
}

/** `graph` and `robots` as GET /api/v1/robots gives them. */
export function nodeGraph(graph, robots) {
  if (!graph) return el("p", { class: "empty", text: t("pharmacy.map.none") });
  const xs = graph.nodes.map((n) => n.x), ys = graph.nodes.map((n) => n.y);
  const minX = Math.min(...xs), maxX = Math.max(...xs), minY = Math.min(...ys), maxY = Math.max(...ys);
  // A schematic, not a floor plan: x and y scale separately to use the panel, labels get room on the right.
  const panelW = 340, panelH = 250, pad = 24, labelRoom = 70, top = 52, gap = 16;
  const sx = (panelW - pad - labelRoom) / Math.max(maxX - minX, 1);
  const sy = (panelH - top - pad) / Math.max(maxY - minY, 1);
  const floorIndex = new Map(graph.floors.map((f, i) => [f, i]));
  const at = (floor, x, y) => [
    floorIndex.get(floor) * (panelW + gap) + pad + (x - minX) * sx,
    top + (maxY - y) * sy, // y grows upwards on the map, downwards on screen
  ];
  const byId = new Map(graph.nodes.map((n) => [n.id, n]));
  const width = graph.floors.length * (panelW + gap) - gap;
  const chart = svg("svg", { class: "graph", viewBox: `0 0 ${width} ${panelH}`, role: "img",
    "aria-label": t("pharmacy.map.aria", { map: graph.name, floors: graph.floors.length, robots: robots.length }) });
  graph.floors.forEach((floor, i) => {
    chart.append(svg("rect", { x: i * (panelW + gap), y: 0, width: panelW, height: panelH, fill: "#f9fafb", stroke: "#d1d5db" }));
    chart.append(svg("text", { class: "floor-label", x: i * (panelW + gap) + 8, y: 16 }, floor));
  });
  for (const edge of graph.edges) {
    const a = byId.get(edge.start), b = byId.get(edge.end);
    if (a.map !== b.map) continue; // the elevator's ride joins floors; the shared elevator node shows it
    const [x1, y1] = at(a.map, a.x, a.y), [x2, y2] = at(b.map, b.x, b.y);
    chart.append(svg("line", { class: "edge", x1, y1, x2, y2 }));
  }
  const placed = graph.nodes.map((node) => { // every node's circle first, so no label covers one
    const [x, y] = at(node.map, node.x, node.y);
    return { node, x, y };
  });
  const taken = placed.map(({ x, y }) => ({ x: x - 7, y: y - 7, w: 14, h: 14 }));
  for (const { node, x, y } of placed) {
    const panelLeft = floorIndex.get(node.map) * (panelW + gap);
    const [lx, ly] = labelSpot(x, y, node.id, taken, [panelLeft, panelLeft + panelW]);
    chart.append(svg("g", { class: `node ${node.kind}` }, svg("title", {}, `${node.id}: ${node.description}`),
      svg("circle", { cx: x, cy: y, r: 6 }), svg("text", { x: lx, y: ly }, node.id)));
  }
  const stacked = new Map(); // robots near the same spot get their flags one above the other
  for (const robot of robots) {
    if (robot.x === null || robot.floor === null) continue;
    const [x, y] = at(robot.floor, robot.x, robot.y);
    const spot = `${Math.round(x / 12)},${Math.round(y / 12)}`;
    const level = stacked.get(spot) ?? 0;
    stacked.set(spot, level + 1);
    const battery = robot.battery_pct === null ? "?" : `${Math.round(robot.battery_pct)} %`;
    const low = robot.battery_pct !== null && robot.battery_pct < LOW_BATTERY;
    const label = `${nameOr(robot.robot, robot.robot_name)} ${battery}`;
    const flagW = label.length * CHAR_W + 8;
    const panelRight = floorIndex.get(robot.floor) * (panelW + gap) + panelW;
    const left = x + flagW > panelRight - 4 ? x - flagW + 2 : x - 2; // flip leftwards at the panel's edge
    const flagY = y - 38 - level * 19;
    // A flag above the marker on a white ground, legible over nodes and edges.
    chart.append(svg("g", { class: `robot${low ? " low" : ""}`, "data-robot": robot.robot },
      svg("title", {}, t("pharmacy.map.robot", { robot: robot.robot, node: nameOr(robot.node, robot.node_name), battery })),
      svg("line", { x1: x, y1: y, x2: x, y2: flagY + 16, stroke: "#1d4ed8", "stroke-width": 1.5 }),
      svg("rect", { class: "flag", x: left, y: flagY, width: flagW, height: 16, rx: 3 }),
      svg("circle", { cx: x, cy: y, r: 8 }), svg("text", { x: left + 4, y: flagY + 12 }, label)));
  }
  return chart;
}
