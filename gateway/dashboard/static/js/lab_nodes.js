// Messages with elements in their placeholders (a link or a <time> inside a sentence), for the lab pages.
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
