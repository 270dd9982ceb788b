// One live stream of alert changes per page (raised, acknowledged, cleared, escalated), shared by the header's count
// and toast, the inbox and the history view: each subscribes, and the stream opens once, after they have.
import { follow } from "./live.js";

const subscribers = [];
let started = false;

/**
 * Call `onChange(change)` for each alert change and `onOpen()` on every (re)connection. `indicate`: this stream is
 * the page's live stream (the history view), so the header's live badge follows it.
 */
export function onAlerts({ onChange, onOpen }, { indicate = false } = {}) {
  subscribers.push({ onChange, onOpen, indicate });
  if (started) return;
  started = true;
  queueMicrotask(() => {
    const loud = subscribers.some((s) => s.indicate);
    follow({ type: "alert." }, {
      quiet: !loud,
      onOpen: () => subscribers.forEach((s) => s.onOpen?.()),
      onChange: (change) => subscribers.forEach((s) => s.onChange?.(change)),
    });
  });
}
