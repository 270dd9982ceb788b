// The gateway's API from the browser: JSON in and out; 401 sends the person to the login page.
import { t } from "./i18n.js";

export class ApiError extends Error {
  constructor(status, detail) {
    super(detail);
    this.status = status;
  }
}

let loggingOut = false;

/** The person asked to log out: a refresh answered 401 meanwhile must not send them back with `next` to this page. */
export function loggingOutNow() {
  loggingOut = true;
}

export function toLogin() {
  if (loggingOut) return;
  const next = location.pathname + location.search;
  location.assign(`/login?next=${encodeURIComponent(next)}`);
}

async function request(method, path, body) {
  const response = await fetch(path, {
    method,
    credentials: "same-origin",
    headers: body === undefined ? { Accept: "application/json" } : { Accept: "application/json", "Content-Type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  if (response.status === 401 && !path.startsWith("/api/v1/auth/login")) {
    toLogin();
    throw new ApiError(401, t("api.not_logged_in"));
  }
  const text = await response.text();
  const data = text ? JSON.parse(text) : null;
  if (!response.ok) {
    const detail = data && (data.detail || data.title);
    throw new ApiError(response.status, typeof detail === "string" ? detail : t("api.failed", { status: response.status }));
  }
  return data;
}

export const getJson = (path, params) => request("GET", params ? `${path}?${new URLSearchParams(params)}` : path);
export const postJson = (path, body = {}) => request("POST", path, body);
