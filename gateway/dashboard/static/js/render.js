// Live refreshes that do not move the person: a panel's content is replaced, and keyboard focus and scroll positions
// come back to the equivalent element (the same id, or the same control inside the element with the same data-key).
import { el } from "./format.js";
import { t } from "./i18n.js";

const FOCUSABLE = "a[href], button, input, select, textarea, [tabindex]";

/** Where focus is inside `container`, as something that survives a re-render; null when it is elsewhere. */
function focusMark(container) {
  const active = document.activeElement;
  if (!active || active === document.body || !container.contains(active)) return null;
  const caret = typeof active.selectionStart === "number" ? [active.selectionStart, active.selectionEnd] : null;
  if (active.id) return { id: active.id, caret };
  const keyed = active.closest("[data-key]");
  if (!keyed || !container.contains(keyed)) return null;
  const index = keyed === active ? -1 : [...keyed.querySelectorAll(FOCUSABLE)].indexOf(active); // -1: the keyed one
  return { key: keyed.dataset.key, index, caret };
}

function refocus(container, mark) {
  let target = null;
  if (mark.id) target = document.getElementById(mark.id);
  else {
    const keyed = [...container.querySelectorAll("[data-key]")].find((node) => node.dataset.key === mark.key);
    target = keyed && mark.index === -1 ? keyed : (keyed?.querySelectorAll(FOCUSABLE)[mark.index] ?? null);
  }
  if (!target || !container.contains(target)) return;
  target.focus({ preventScroll: true });
  if (mark.caret && typeof target.setSelectionRange === "function") target.setSelectionRange(...mark.caret);
}

/** The scroll offsets of the container and of every scrolling box inside it (wide tables), in document order. */
function scrolls(container) {
  return [container, ...container.querySelectorAll(".scroll")].map((node) => [node.scrollLeft, node.scrollTop]);
}

/** What was typed or chosen in the container's controls that have an id (a half-filled form survives a refresh). */
function entries(container) {
  return [...container.querySelectorAll("input[id], select[id], textarea[id]")]
    .filter((node) => node.type !== "submit" && node.type !== "button")
    .map((node) => [node.id, node.type === "checkbox" ? node.checked : node.value]);
}

function restore(container, values) {
  for (const [id, value] of values) {
    const node = document.getElementById(id);
    if (!node || !container.contains(node)) continue;
    if (node.type === "checkbox") node.checked = value;
    else if (node.tagName !== "SELECT" || [...node.options].some((o) => o.value === value)) node.value = value;
    node.dispatchEvent(new Event("change")); // a choice that others depend on (a fault's devices) updates them
  }
}

/**
 * Run `render()`, which replaces what `container` shows, keeping keyboard focus on the equivalent element and the
 * scroll positions of the panel, its wide tables and the page; with `values`, also what was typed in its controls
 * (restored with a `change` event, so leave it off where a change re-renders the container).
 */
export function keepingFocus(container, render, { values = false } = {}) {
  const mark = focusMark(container);
  const typed = values ? entries(container) : [];
  const before = scrolls(container);
  const page = [window.scrollX, window.scrollY];
  render();
  scrolls(container).forEach((_, n) => {
    const node = n === 0 ? container : container.querySelectorAll(".scroll")[n - 1];
    if (before[n]) [node.scrollLeft, node.scrollTop] = before[n];
  });
  restore(container, typed);
  if (mark) refocus(container, mark);
  if (window.scrollX !== page[0] || window.scrollY !== page[1]) window.scrollTo(page[0], page[1]);
}

/**
 * Replace `container`'s children with `children` (a message in italics when there are none), keeping keyboard focus
 * on the equivalent element, what was typed in its controls, and the scroll positions (`keepingFocus`). Give the
 * elements people act on an id, or a `data-key` (on them or on an element around them: a row's `data-key="alert-…"`).
 */
export function replaceKeepingFocus(container, children, emptyText = t("format.nothing")) {
  keepingFocus(
    container,
    () => container.replaceChildren(...(children.length ? children : [el("p", { class: "empty", text: emptyText })])),
    { values: true },
  );
}
