// The duplicate review queue of a view: candidate pairs, most stars first, each with its
// reasons and the two relations side by side as the view's form shows them. A reviewer marks a
// pair "not a duplicate" here, or opens it to merge with a choice per field (merge.js).

import { get, post, query } from "../../api.js";
import { field, flash, h, mount } from "../../dom.js";
import { fieldLabel, t } from "../../i18n.js";
import { go } from "../../router.js";
import { session, setCurrentView, viewById } from "../../state.js";
import { RIGHTS, asText, can, problem, requireRight } from "./common.js";

const PAGE = 10;

export async function renderDuplicates(main, { view: viewId }) {
  requireRight(RIGHTS.review);
  const view = viewById(viewId);
  if (!view) throw Object.assign(new Error("not found"), { status: 404 });
  setCurrentView(viewId);
  const base = `/views/${viewId}/duplicates`;
  const list = h("div", { id: "duplicate-pairs" });
  const message = h("div", { role: "status" });
  const more = h("div", {});
  const minStars = h(
    "select",
    { id: "min-stars", onchange: () => load() },
    [1, 2, 3, 4, 5].map((n) => h("option", { value: String(n) }, "★".repeat(n))),
  );

  async function load(cursor = null) {
    const page = await get(`${base}${query({ limit: PAGE, cursor, min_stars: minStars.value })}`);
    if (!cursor) mount(list);
    page.pairs.forEach((pair) => list.append(pairCard(pair)));
    if (!list.children.length) mount(list, h("p", { class: "muted" }, t("auto_no_pairs")));
    mount(
      more,
      page.next_cursor
        ? h("button", { type: "button", onclick: () => load(page.next_cursor).catch((e) => mount(message, problem(e))) }, t("auto_more"))
        : null,
    );
  }

  function pairCard(pair) {
    const [a, b] = pair.relations;
    const headingId = `pair-${pair.pair_id}`;
    const box = h("section", { class: "panel auto-pair", "aria-labelledby": headingId, "data-pair": pair.pair_id });
    const names = Object.keys({ ...a.fields, ...b.fields });
    mount(
      box,
      h("h2", { id: headingId }, t("auto_pair_of", { a: a.display_name, b: b.display_name })),
      h("p", {}, h("span", { class: "auto-stars", "aria-hidden": "true" }, "★".repeat(pair.stars) + "☆".repeat(5 - pair.stars)), " ", t("auto_stars", { stars: pair.stars })),
      pair.note ? h("p", { class: "notice" }, `${t("auto_note")}: ${pair.note}`) : null,
      h("h3", {}, t("auto_reasons")),
      h("ul", { class: "auto-reasons" }, pair.reasons.map((r) => h("li", {}, `${r.reason} (${t(r.points === 1 ? "auto_point" : "auto_points", { points: r.points })})`))),
      compareTable(viewId, [a, b], names),
      h(
        "div",
        { class: "row" },
        h("button", { type: "button", onclick: () => reject(pair, box) }, t("auto_not_duplicate")),
        can(RIGHTS.merge) ? h("a", { class: "button primary", href: `#${base}/${pair.pair_id}` }, t("auto_compare_merge")) : null,
      ),
    );
    return box;
  }

  async function reject(pair, box) {
    try {
      await post(`${base}/${pair.pair_id}/decision`, { decision: "not_duplicate" });
      box.remove();
      flash(t("auto_rejected"));
      if (!list.children.length) mount(list, h("p", { class: "muted" }, t("auto_no_pairs")));
      list.querySelector("h2")?.setAttribute("tabindex", "-1");
      list.querySelector("h2")?.focus();
    } catch (error) {
      mount(message, problem(error));
    }
  }

  const picker = session.views.length > 1
    ? field(t("view"), h("select", { id: "duplicates-view", onchange: (e) => go(`/views/${e.target.value}/duplicates`) },
        session.views.map((v) => h("option", { value: v.view_id, selected: v.view_id === viewId }, v.name))))
    : null;
  mount(
    main,
    h("h1", {}, t("auto_duplicates_in", { view: view.name })),
    h("div", { class: "row" }, picker, field(t("auto_min_stars"), minStars)),
    message,
    list,
    more,
  );
  await load();
}

/** The two relations' fields side by side (a row per field, a column per relation). */
export function compareTable(viewId, relations, names) {
  return h(
    "table",
    { class: "auto-compare" },
    h(
      "thead",
      {},
      h(
        "tr",
        {},
        h("th", { scope: "col" }, t("auto_field")),
        relations.map((r) =>
          h("th", { scope: "col" }, h("a", { href: `#/views/${viewId}/relations/${r.relation_id}` }, r.display_name), r.relation_number ? ` (${r.relation_number})` : ""),
        ),
      ),
    ),
    h(
      "tbody",
      {},
      names.map((name) => {
        const values = relations.map((r) => asText(r.fields[name]));
        const differ = values.some((v) => v !== values[0]);
        return h(
          "tr",
          { class: differ ? "auto-differs" : null },
          h("th", { scope: "row" }, fieldLabel(name)),
          values.map((v) => h("td", {}, v)),
        );
      }),
    ),
  );
}
