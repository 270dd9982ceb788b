// The live stream (GET /api/v1/stream): server-sent `change` frames; reconnects, and says so in the header.
import { getJson } from "./api.js";
import { t } from "./i18n.js";

const RETRY_MIN_MS = 1000;
const RETRY_MAX_MS = 30000;

function show(state) {
  const badge = document.getElementById("live");
  if (!badge) return;
  badge.dataset.state = state;
  badge.textContent = t(`live.${state === "live" || state === "reconnecting" ? state : "connecting"}`);
}

/**
 * Follow the stream with `filter` (subject_kind, subject_id, type). `onChange(change)` gets each change;
 * `onOpen()` runs on every (re)connection, so the view re-reads what it may have missed while away. A `quiet` stream
 * (the header's, beside the page's own) leaves the live badge to the page's stream.
 */
export function follow(filter, { onChange, onOpen, quiet = false }) {
  const indicate = quiet ? () => {} : show;
  let retry = RETRY_MIN_MS;
  let source = null;
  const params = new URLSearchParams(Object.entries(filter).filter(([, v]) => v));

  const again = () => {
    indicate("reconnecting");
    setTimeout(open, retry);
    retry = Math.min(retry * 2, RETRY_MAX_MS);
  };

  function open() {
    source = new EventSource(`/api/v1/stream?${params}`, { withCredentials: true });
    source.addEventListener("open", () => {
      retry = RETRY_MIN_MS;
      indicate("live");
      onOpen?.();
    });
    source.addEventListener("change", (message) => onChange(JSON.parse(message.data)));
    source.addEventListener("end", () => {
      // The gateway closed the stream (we fell behind, or it is stopping): reconnect and re-read.
      source.close();
      again();
    });
    source.addEventListener("error", () => {
      if (source.readyState === EventSource.CLOSED) {
        // Refused outright (e.g. the session ended): /auth/me sends us to the login page on 401.
        getJson("/api/v1/auth/me").catch(() => {});
        again();
      } else {
        indicate("reconnecting"); // the browser retries by itself after `retry:` ms
      }
    });
  }

  open();
  return { close: () => source?.close() };
}
