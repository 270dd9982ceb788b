// The login form: POST /api/v1/auth/login, then the page the person asked for, or their role's home.
import { ApiError, postJson } from "./api.js";
import { t } from "./i18n.js";

const form = document.getElementById("login");
const problem = document.getElementById("login-problem");

// Only a path on this gateway. Browsers drop tabs and newlines from URLs and read "\\" as "/", so "/\t/host" and
// "/\\host" are "//host", another site: control characters, backslashes, "//" and schemes are all refused, and what
// is left must still resolve to this origin.
const UNSAFE = /[\u0000-\u001f\u007f\\]/;

function safeNext() {
  const next = new URLSearchParams(location.search).get("next");
  if (!next || !next.startsWith("/") || next.startsWith("//") || UNSAFE.test(next)) {
    return "/";
  }
  let target;
  try {
    target = new URL(next, location.origin);
  } catch {
    return "/";
  }
  return target.origin === location.origin ? target.pathname + target.search + target.hash : "/";
}

form.addEventListener("submit", async (event) => {
  event.preventDefault();
  problem.hidden = true;
  const button = form.querySelector("button");
  button.disabled = true;
  try {
    await postJson("/api/v1/auth/login", {
      username: form.username.value.trim(),
      password: form.password.value,
    });
    location.assign(safeNext());
  } catch (error) {
    problem.textContent =
      error instanceof ApiError && error.status === 401
        ? t("login.mismatch")
        : error.message;
    problem.hidden = false;
    form.password.select();
  } finally {
    button.disabled = false;
  }
});
