// What every staff page has: the logout button, the language switcher, and who is looking (from the page the server rendered).
import { postJson } from "./api.js";
import { choose } from "./i18n.js";

export const viewer = {
  name: document.body.dataset.user,
  role: document.body.dataset.role,
  wards: (document.body.dataset.wards || "").split(",").filter(Boolean),
};

document.getElementById("logout")?.addEventListener("click", async () => {
  try {
    await postJson("/api/v1/auth/logout");
  } finally {
    location.assign("/login");
  }
});

document.getElementById("language")?.addEventListener("change", (event) => choose(event.target.value));
