// Administration · users: who may log in, with which role and wards; create, disable or enable, reset a password,
// change wards. Everything goes through /api/v1/users; the API's reasons show next to the field they concern.
import { everything, send } from "./admin_api.js";
import { askField, clearErrors, confirmAction, roleName, say, showErrors, wardList, wardsText, when } from "./admin_forms.js";
import { badge, el, fill, table } from "./format.js";
import { t } from "./i18n.js";
import { viewer } from "./shell.js";

const list = document.getElementById("users");
const status = document.getElementById("users-status");
const form = document.getElementById("new-user");
const path = (name) => `/api/v1/users/${encodeURIComponent(name)}`;

async function toggle(user) {
  if (!user.disabled) {
    const sure = await confirmAction(t("admin.users.disable_confirm", { name: user.name }), t("admin.users.disable"));
    if (!sure) return;
  }
  try {
    await send("PATCH", path(user.name), { disabled: !user.disabled });
    say(status, t(user.disabled ? "admin.users.enabled" : "admin.users.disabled", { name: user.name }));
  } catch (error) {
    say(status, error.message);
  }
  await load();
}

async function resetPassword(user) {
  const done = await askField(
    {
      title: t("admin.users.reset_title", { name: user.name }),
      label: t("admin.field.new_password"),
      name: "password",
      type: "password",
      hint: t("admin.password_hint"),
      action: t("admin.users.reset"),
    },
    (password) => send("PUT", `${path(user.name)}/password`, { password }),
  );
  if (done) say(status, t("admin.users.password_set", { name: user.name }));
}

async function changeWards(user) {
  const done = await askField(
    {
      title: t("admin.users.wards_title", { name: user.name }),
      label: t("admin.field.wards"),
      name: "wards",
      value: user.wards.join(", "),
      hint: t("admin.wards_hint"),
      action: t("admin.save"),
    },
    (text) => send("PATCH", path(user.name), { wards: wardList(text) }),
  );
  if (done) {
    say(status, t("admin.users.wards_set", { name: user.name }));
    await load();
  }
}

function row(user) {
  const self = user.name === viewer.name;
  const action = (text, fn, cls = "secondary") => el("button", { type: "button", class: cls, onclick: () => fn(user) }, text);
  return el(
    "tr",
    { "data-user": user.name },
    el("th", { scope: "row", text: user.name }),
    el("td", { text: roleName(user.role) }),
    el("td", { text: wardsText(user.wards) }),
    el("td", {}, user.disabled ? badge(t("admin.users.state_disabled"), "bad") : badge(t("admin.users.state_active"), "ok")),
    el("td", {}, when(user.last_login_at)),
    el(
      "td",
      { class: "row-actions" },
      self ? null : action(user.disabled ? t("admin.users.enable") : t("admin.users.disable"), toggle, user.disabled ? "secondary" : "secondary danger"),
      action(t("admin.users.reset"), resetPassword),
      action(t("admin.users.change_wards"), changeWards),
    ),
  );
}

async function load() {
  try {
    const { data } = await everything("/api/v1/users");
    const headers = [t("admin.field.name"), t("admin.field.role"), t("admin.field.wards"), t("admin.users.state"), t("admin.users.last_login"), t("admin.actions")];
    fill(list, [table(headers, data.map(row), { caption: t("admin.users.title") })], t("admin.users.none"));
  } catch (error) {
    fill(list, [el("p", { class: "problem", text: error.message })]);
  }
}

form.addEventListener("submit", async (event) => {
  event.preventDefault();
  clearErrors(form);
  const body = {
    name: form.elements.name.value.trim(),
    role: form.elements.role.value,
    wards: wardList(form.elements.wards.value),
    password: form.elements.password.value,
  };
  const button = form.querySelector("button[type=submit]");
  button.disabled = true;
  try {
    await send("POST", "/api/v1/users", body);
    form.reset();
    say(status, t("admin.users.created", { name: body.name }));
    await load();
  } catch (error) {
    showErrors(form, error, { 409: "name" });
  } finally {
    button.disabled = false;
  }
});

load();
