// The login form: POST /api/v1/auth/login, then the page the person asked for, or their role's home.
import { ApiError, postJson } from "./api.js";

const form = document.getElementById("login");
const problem = document.getElementById("login-problem");

function safeNext() {
  const next = new URLSearchParams(location.search).get("next");
  // Only a path on this site: never an absolute URL or a protocol-relative one ("//host", "/\\host").
  return next && next.startsWith("/") && !/^\/[/\\]/.test(next) ? next : "/";
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
        ? "That user name and password do not match. Check them and try again."
        : error.message;
    problem.hidden = false;
    form.password.select();
  } finally {
    button.disabled = false;
  }
});
