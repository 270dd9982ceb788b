// The scan box on every lab page: a barcode known to the gateway opens its specimen; one it does not know gets a
// clear answer beside the box, and the box keeps the focus (text selected) for the next scan.
import { ApiError, getJson } from "./api.js";
import { el } from "./format.js";
import { t } from "./i18n.js";
import { tNodes } from "./lab_nodes.js";

const specimenPage = (barcode) => `/lab/specimens/${encodeURIComponent(barcode)}`;

function answer(box, output, children, state) {
  output.dataset.state = state;
  output.replaceChildren(...children);
  box.setAttribute("aria-invalid", state === "unknown" || state === "problem" ? "true" : "false");
  box.focus();
  box.select();
}

async function look(barcode, box, output) {
  output.dataset.state = "looking";
  output.textContent = t("lab.scan.looking", { barcode });
  try {
    await getJson(`/api/v1/specimens/${encodeURIComponent(barcode)}`);
  } catch (error) {
    if (!(error instanceof ApiError)) throw error;
    const code = el("strong", { class: "code", text: barcode });
    if (error.status === 404) {
      // A ward-scoped user gets the same answer for another ward's specimen: a guessed barcode tells nothing.
      const scoped = Boolean(document.body.dataset.wards);
      const watch = scoped ? null : el("a", { href: specimenPage(barcode), id: "scan-watch", text: t("lab.scan.watch") });
      answer(box, output, [el("span", {}, ...tNodes("lab.scan.unknown", { barcode: code })), watch ? " " : null, watch].filter(Boolean), "unknown");
    } else if (error.status === 422) {
      answer(box, output, tNodes("lab.scan.invalid", { barcode: code, reason: error.message }), "problem");
    } else {
      answer(box, output, [t("lab.scan.failed", { reason: error.message })], "problem");
    }
    return;
  }
  location.assign(specimenPage(barcode));
}

/** Wire the page's scan form (#scan, #barcode, #scan-answer); the box has `autofocus` in the template. */
export function scanBox() {
  const form = document.getElementById("scan");
  const box = document.getElementById("barcode");
  const output = document.getElementById("scan-answer");
  if (!form || !box || !output) return;
  if (document.activeElement === document.body) box.focus();
  form.addEventListener("submit", (event) => {
    // A scanner types the barcode fast and presses Enter; a person does the same, more slowly.
    event.preventDefault();
    const barcode = box.value.trim();
    if (!barcode) return;
    look(barcode, box, output).catch((error) => answer(box, output, [t("lab.scan.failed", { reason: error.message })], "problem"));
  });
  box.addEventListener("input", () => {
    if (output.dataset.state !== "looking") {
      output.replaceChildren();
      output.dataset.state = "";
      box.removeAttribute("aria-invalid");
    }
  });
}
