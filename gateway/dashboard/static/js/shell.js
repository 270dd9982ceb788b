// What every staff page has: the logout button, the language switcher, who is looking (from the page the server
// rendered), the hospital's clock and the viewer's alert count in the header, and toasts for new critical alerts.
import { loggingOutNow, postJson } from "./api.js";
import { choose } from "./i18n.js";

export const viewer = {
  name: document.body.dataset.user,
  role: document.body.dataset.role,
  wards: (document.body.dataset.wards || "").split(",").filter(Boolean),
};

document.getElementById("logout")?.addEventListener("click", async () => {
  loggingOutNow();
  try {
    await postJson("/api/v1/auth/logout");
  } finally {
    location.assign("/login");
  }
});

document.getElementById("language")?.addEventListener("change", (event) => choose(event.target.value));

// The header's clock and alert count load after the buttons above work: a person may log out at once.
import("./header_clock.js");
import("./alert_badge.js");
