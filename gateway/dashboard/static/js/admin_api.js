// The admin screens' requests: any method, a JSON or file body, and the API's reasons kept for the form that sent them.
import { ApiError, toLogin } from "./api.js";

/** An API refusal: `detail` (the API's reason) and, for a reference import, `errors` per file/line/field. */
export class AdminError extends ApiError {
  constructor(status, detail, errors = []) {
    super(status, detail);
    this.errors = errors;
  }
}

/** `method path` with `body` (JSON, or sent as-is with `type`); the answer's JSON, or an AdminError. */
export async function send(method, path, body, { type = "application/json" } = {}) {
  const headers = { Accept: "application/json" };
  let payload;
  if (body !== undefined) {
    headers["Content-Type"] = type;
    payload = type === "application/json" ? JSON.stringify(body) : body;
  }
  const response = await fetch(path, { method, credentials: "same-origin", headers, body: payload });
  if (response.status === 401) {
    toLogin();
    throw new AdminError(401, "not logged in");
  }
  const text = await response.text();
  let data = null;
  try {
    data = text ? JSON.parse(text) : null;
  } catch {
    data = null;
  }
  if (!response.ok) {
    const detail = data && (data.detail || data.title);
    throw new AdminError(response.status, typeof detail === "string" ? detail : `HTTP ${response.status}`, data?.errors ?? []);
  }
  return data;
}

/** Every record of a paged list (`data`, `count`), `size` at a time. */
export async function everything(path, size = 500) {
  const all = [];
  for (let offset = 0; ; offset += size) {
    const page = await send("GET", `${path}?${new URLSearchParams({ limit: size, offset })}`);
    all.push(...page.data);
    if (page.data.length < size || all.length >= page.count) return { data: all, page };
  }
}
