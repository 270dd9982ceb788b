// Administration · service tokens: what other systems use to call the API. A new token's secret is shown once,
// to copy; a revoked token stops working at once and stays listed for the record.
import { everything, send } from "./admin_api.js";
import { clearErrors, confirmAction, roleName, say, showErrors, wardList, wardsText, when } from "./admin_forms.js";
import { badge, el, fill, table } from "./format.js";
import { t } from "./i18n.js";

const list = document.getElementById("tokens");
const status = document.getElementById("tokens-status");
const form = document.getElementById("new-token");
const secretBox = document.getElementById("token-secret");
const secret = document.getElementById("token-secret-value");
const copied = document.getElementById("token-copied");

function state(token) {
  if (token.revoked_at) return badge(t("admin.tokens.state_revoked"), "bad");
  if (!token.active) return badge(t("admin.tokens.state_expired"), "warn");
  return badge(t("admin.tokens.state_active"), "ok");
}

async function revoke(token) {
  const sure = await confirmAction(t("admin.tokens.revoke_confirm", { name: token.name }), t("admin.tokens.revoke"));
  if (!sure) return;
  try {
    await send("DELETE", `/api/v1/tokens/${token.id}`);
    say(status, t("admin.tokens.revoked", { name: token.name }));
  } catch (error) {
    say(status, error.message);
  }
  await load();
}

function row(token) {
  return el(
    "tr",
    { "data-token": token.id },
    el("th", { scope: "row", text: token.name }),
    el("td", { text: roleName(token.role) }),
    el("td", { text: wardsText(token.wards) }),
    el("td", {}, state(token)),
    el("td", { text: token.created_by ?? "—" }),
    el("td", {}, when(token.created_at)),
    el("td", {}, token.expires_at ? when(token.expires_at) : t("admin.tokens.no_expiry")),
    el("td", {}, when(token.last_used_at)),
    el("td", {}, token.active ? el("button", { type: "button", class: "secondary danger", onclick: () => revoke(token) }, t("admin.tokens.revoke")) : null),
  );
}

async function load() {
  try {
    const { data } = await everything("/api/v1/tokens");
    const headers = [
      t("admin.field.name"),
      t("admin.field.role"),
      t("admin.field.wards"),
      t("admin.tokens.state"),
      t("admin.tokens.created_by"),
      t("admin.tokens.created_at"),
      t("admin.tokens.expires_at"),
      t("admin.tokens.last_used"),
      t("admin.actions"),
    ];
    fill(list, [table(headers, data.map(row), { caption: t("admin.tokens.title") })], t("admin.tokens.none"));
  } catch (error) {
    fill(list, [el("p", { class: "problem", text: error.message })]);
  }
}

document.getElementById("token-copy").addEventListener("click", async () => {
  secret.select();
  try {
    await navigator.clipboard.writeText(secret.value);
  } catch {
    document.execCommand("copy"); // pages served over plain http have no clipboard API
  }
  copied.hidden = false;
});

form.addEventListener("submit", async (event) => {
  event.preventDefault();
  clearErrors(form);
  const days = form.elements.expires_in_days.value;
  const body = { name: form.elements.name.value.trim(), role: form.elements.role.value, wards: wardList(form.elements.wards.value) };
  if (days) body.expires_in_days = Number(days);
  const button = form.querySelector("button[type=submit]");
  button.disabled = true;
  try {
    const created = await send("POST", "/api/v1/tokens", body);
    form.reset();
    secret.value = created.secret;
    copied.hidden = true;
    secretBox.hidden = false;
    secret.focus();
    secret.select();
    say(status, t("admin.tokens.created", { name: created.name }));
    await load();
  } catch (error) {
    showErrors(form, error);
  } finally {
    button.disabled = false;
  }
});

load();
