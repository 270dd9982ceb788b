// What every admin form shares: fields read and checked, the API's reasons shown next to the field they name,
// a confirmation before anything destructive, and dates in the reader's own clock.
import { el } from "./format.js";
import { t } from "./i18n.js";
import { dated, fullTime } from "./time.js";

/** "ward-3a, ward-4b" → ["ward-3a", "ward-4b"]; empty → [] (every ward). */
export const wardList = (text) => text.split(/[,，\s]+/).map((w) => w.trim()).filter(Boolean);

/** Wards as people read them: the list, or "every ward". */
export const wardsText = (wards) => (wards.length ? wards.join(", ") : t("admin.wards_all"));

/** A role's name in the page's language. */
export const roleName = (role) =>
  ({
    lab: t("admin.role.lab"),
    pharmacy: t("admin.role.pharmacy"),
    engineer: t("admin.role.engineer"),
    admin: t("admin.role.admin"),
    integration: t("admin.role.integration"),
  })[role] ?? role;

/** An instant in the hospital's time zone, always with the date ("2026/12/06 16:03:12"); "never" for none. Audit
 * entries and logins are real time, not the hospital's simulated day, so they are not shown with the clock's "today". */
export function when(iso) {
  if (!iso) return el("span", { text: t("admin.never") });
  return el("time", { datetime: iso, title: fullTime(iso) }, dated(iso));
}

// The admin screens read the API on demand; nothing on them follows the live stream, and the header says so.
const live = document.getElementById("live");
if (live) {
  live.dataset.state = "off";
  live.textContent = t("live.off");
}

function errorOf(form, field) {
  return form.querySelector(`#${form.dataset.prefix}-${field}-error`);
}

/** Hide every reason shown on `form`. */
export function clearErrors(form) {
  for (const p of form.querySelectorAll(".field-error, .problem")) {
    p.hidden = true;
    p.textContent = "";
  }
  for (const input of form.querySelectorAll("[aria-invalid]")) input.removeAttribute("aria-invalid");
}

/** Show `reason` next to `field` of `form` (its input marked invalid and focused first). */
export function fieldError(form, field, reason) {
  const p = errorOf(form, field);
  if (!p) return false;
  p.textContent = reason;
  p.hidden = false;
  const input = form.elements[field];
  if (input) {
    input.setAttribute("aria-invalid", "true");
    if (!form.querySelector("[aria-invalid]:focus")) input.focus();
  }
  return true;
}

const TAIL = /;\s*(fix the request and try again|nothing was changed)\.?$/;

/** The API's reason shown where it belongs: "password: a password needs 12..." next to the password field,
 * `fields[status]` (e.g. 409 → "name") next to that field, anything else above the form. */
export function showErrors(form, error, fields = {}) {
  clearErrors(form);
  const detail = String(error.message || error).replace(TAIL, "");
  const general = [];
  for (const part of detail.split(/;\s*(?=[a-z_]+(?:\.\d+)?: )/)) {
    const named = /^([a-z_]+)(?:\.\d+)?: (.*)$/s.exec(part);
    if (!(named && fieldError(form, named[1], named[2]))) general.push(part);
  }
  const rest = general.join("; ");
  if (rest && !(fields[error.status] && fieldError(form, fields[error.status], rest))) {
    const problem = form.querySelector(".problem");
    problem.textContent = rest;
    problem.hidden = false;
  }
}

/** A modal dialog asking to confirm `message`; resolves true when the person presses `action`. */
export function confirmAction(message, action) {
  return new Promise((resolve) => {
    const yes = el("button", { type: "button", class: "primary danger", text: action });
    const no = el("button", { type: "button", class: "secondary", text: t("admin.cancel") });
    const dialog = el("dialog", { class: "admin-dialog", "aria-label": action }, el("p", { text: message }), el("div", { class: "actions" }, no, yes));
    const close = (answer) => {
      dialog.close();
      dialog.remove();
      resolve(answer);
    };
    yes.addEventListener("click", () => close(true));
    no.addEventListener("click", () => close(false));
    dialog.addEventListener("cancel", () => close(false));
    document.body.append(dialog);
    dialog.showModal();
    no.focus();
  });
}

/** A modal form of one labelled field; `submit(value)` runs on send and may throw an AdminError, shown at the field.
 * Resolves with `submit`'s answer, or null when cancelled. */
export function askField({ title, label, name, type = "text", value = "", hint, action }, submit) {
  return new Promise((resolve) => {
    const id = `ask-${name}`;
    const input = el("input", { id, name, type, value, autocomplete: type === "password" ? "new-password" : "off", "aria-describedby": `${id}-hint ${id}-error` });
    const cancel = el("button", { type: "button", class: "secondary", text: t("admin.cancel") });
    const form = el(
      "form",
      { class: "admin-form", novalidate: true, "data-prefix": "ask" },
      el("h2", { text: title }),
      el("p", { class: "problem", role: "alert", hidden: true }),
      el("div", { class: "field" }, el("label", { for: id, text: label }), input, hint ? el("p", { class: "hint", id: `${id}-hint`, text: hint }) : null, el("p", { class: "field-error", id: `${id}-error`, hidden: true })),
      el("div", { class: "actions" }, cancel, el("button", { type: "submit", class: "primary", text: action })),
    );
    const dialog = el("dialog", { class: "admin-dialog", "aria-label": title }, form);
    const close = (answer) => {
      dialog.close();
      dialog.remove();
      resolve(answer);
    };
    cancel.addEventListener("click", () => close(null));
    dialog.addEventListener("cancel", () => close(null));
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      clearErrors(form);
      try {
        close((await submit(input.value)) ?? true);
      } catch (error) {
        showErrors(form, error, { 422: name, 404: name });
      }
    });
    document.body.append(dialog);
    dialog.showModal();
    input.focus();
  });
}

/** A status line's text for a few seconds (what an action did). */
export function say(element, text) {
  element.textContent = text;
  element.hidden = false;
}
