// The replenishment pick list: every item below par in a cabinet (on hand summed over its bins), and the cabinets
// whose stock is not known yet (no full inventory), which the list cannot vouch for.
import { getJson } from "./api.js";
import { drug, el, fill, named, table } from "./format.js";
import { t } from "./i18n.js";

export async function loadPickList(target) {
  const picks = await getJson("/api/v1/replenishment");
  const rows = picks.data.map((p) => el("tr", { "data-cabinet": p.cabinet, "data-gtin": p.gtin },
    el("td", {}, named(p.ward, p.ward_name)), el("td", {}, named(p.cabinet, p.cabinet_name)), el("td", {}, drug(p)),
    el("td", { text: p.bins.join(", ") || "—" }),
    el("td", { class: "num", text: p.on_hand }), el("td", { class: "num", text: `${p.par_min}–${p.par_max}` }),
    el("td", { class: "num", text: p.quantity })));
  const headers = [t("pharmacy.col.ward"), t("pharmacy.col.cabinet"), t("pharmacy.col.item"), t("pharmacy.col.bins"),
    { text: t("pharmacy.col.on_hand"), num: true }, { text: t("pharmacy.col.par"), num: true }, { text: t("pharmacy.col.pick"), num: true }];
  const unknown = picks.unknown_stock.length
    ? el("p", { class: "unknown-stock" }, t("pharmacy.picklist.unknown"), " ",
      ...picks.unknown_stock.flatMap((c, i) => [i ? ", " : "", named(c.cabinet, c.cabinet_name)]))
    : null;
  const none = picks.unknown_stock.length ? t("pharmacy.picklist.none_known") : t("pharmacy.picklist.none");
  fill(target, [
    rows.length ? table(headers, rows, { caption: t("pharmacy.picklist.title") }) : el("p", { class: "empty", text: none }),
    unknown,
  ].filter(Boolean));
}
