// Small DOM helpers of the lab pages: messages with elements in their placeholders, and focus kept across re-renders.
import { t } from "./i18n.js";

const PLACEHOLDER = /\{([a-z_][a-z0-9_]*)\}/g;

/** The message `key` as a list of text and nodes: each `{name}` is replaced by `params[name]` (a node or text). */
export function tNodes(key, params = {}) {
  const text = t(key);
  const parts = [];
  let last = 0;
  for (const match of text.matchAll(PLACEHOLDER)) {
    parts.push(text.slice(last, match.index));
    parts.push(match[1] in params ? params[match[1]] : match[0]);
    last = match.index + match[0].length;
  }
  parts.push(text.slice(last));
  return parts.filter((part) => part !== "" && part !== null && part !== undefined);
}

/**
 * Re-render `container` with `render()` and give the keyboard focus back: a live refresh replaces the elements,
 * so the focused one (inside `container`, marked with `data-key`) is found again by its key and focused.
 */
export function keepingFocus(container, render) {
  const active = document.activeElement;
  const key = active && container.contains(active) ? active.dataset?.key : undefined;
  render();
  if (key === undefined) return;
  const again = container.querySelector(`[data-key="${CSS.escape(key)}"]`);
  if (again) again.focus({ preventScroll: true });
}
