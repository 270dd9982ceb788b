// Messages in the page's language: the catalogue the server embedded in the page (gateway/dashboard/i18n.py).

const element = document.getElementById("catalogue");
const catalogue = element ? JSON.parse(element.textContent) : {};

/** The page's language: "en" or "zh-CN". */
export const language = document.documentElement.lang || "en";

/** The message `key` with its `{name}` placeholders filled from `params`; the key itself if it is missing. */
export function t(key, params = {}) {
  const text = catalogue[key];
  if (text === undefined) {
    console.warn(`no message ${key} in the ${language} catalogue`);
    return key;
  }
  return text.replace(/\{([a-z_][a-z0-9_]*)\}/g, (whole, name) => (name in params ? String(params[name]) : whole));
}

/** Whether the catalogue has `key` (for messages chosen from data, e.g. an alert's kind). */
export const has = (key) => key in catalogue;

/** Remember the person's language for a year and show the page in it. */
export function choose(code) {
  document.cookie = `wardlink_lang=${encodeURIComponent(code)}; path=/; max-age=31536000; SameSite=Lax`;
  location.reload();
}
