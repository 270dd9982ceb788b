// What every chart shares: SVG elements, round ticks (1-2-5 steps) and an accessible frame (title, desc).
const NS = "http://www.w3.org/2000/svg";

/** An SVG element with attributes and children (text children become text nodes, never markup). */
export function svg(tag, attrs = {}, ...children) {
  const node = document.createElementNS(NS, tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value !== null && value !== undefined) node.setAttribute(key, String(value));
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

/** The step people read on an axis: 1, 2 or 5 times a power of ten, giving at most about `count` intervals. */
export function niceStep(span, count = 5) {
  if (!(span > 0)) return 1;
  const raw = span / count;
  const power = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * power).find((s) => s >= raw);
  return step;
}

/** Round ticks covering [lo, hi]: multiples of a 1-2-5 step, from at or below lo to at or above hi. */
export function niceTicks(lo, hi, count = 5) {
  const step = niceStep(hi - lo, count);
  const first = Math.floor(lo / step) * step;
  const ticks = [];
  for (let v = first; v < hi + step * 0.999; v += step) ticks.push(Number(v.toFixed(10)));
  return ticks;
}

let counter = 0;

/** An <svg role="img"> named by its <title> and described by its <desc> (what a screen reader says of it). */
export function frame(width, height, cls, title, description) {
  counter += 1;
  const titleId = `chart-title-${counter}`;
  const descId = `chart-desc-${counter}`;
  return svg("svg", { class: cls, viewBox: `0 0 ${width} ${height}`, role: "img", "aria-labelledby": `${titleId} ${descId}` },
    svg("title", { id: titleId }, title), svg("desc", { id: descId }, description));
}
