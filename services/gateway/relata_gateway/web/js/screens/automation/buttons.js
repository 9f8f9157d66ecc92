// Action buttons: button rules (made in the rule editor with a button trigger), placed by an
// administrator on a tab of a view's form; and the placed buttons on the relation card, where
// pressing one runs its rule for that relation at once (right buttons.run).

import { get, post, query, request } from "../../api.js";
import { field, flash, h, mount } from "../../dom.js";
import { fieldLabel, t } from "../../i18n.js";
import { reloadViews } from "../../state.js";
import { RIGHTS, asText, can, problem, requireRight } from "./common.js";
import { isButton, renderRuleEditor, ruleTable } from "./rules.js";

export async function renderButtons(main) {
  requireRight(RIGHTS.manage);
  const buttons = (await get("/automation/rules")).filter(isButton);
  const views = can(RIGHTS.administration) ? await get("/admin/views") : [];
  mount(
    main,
    h("h1", {}, t("auto_buttons")),
    h("p", {}, h("a", { class: "button primary", href: "#/automation/buttons/new" }, t("auto_button_new"))),
    ruleTable(buttons, "buttons-table", () => renderButtons(main)),
    views.length ? buttons.map((button) => placement(button, views)) : null,
  );
}

export function renderButtonEditor(main) {
  return renderRuleEditor(main, {}, { button: true });
}

/** Which tabs of which views show the button: a checkbox per tab, saved per view (If-Match). */
function placement(button, views) {
  const headingId = `place-${button.rule_id}`;
  const message = h("div", {});
  const boxes = views.flatMap((view) =>
    view.form.tabs.map((tab, i) => ({
      view,
      tab: i,
      input: h("input", { type: "checkbox", checked: (tab.buttons || []).includes(button.rule_id) }),
      text: t("auto_place_on", { tab: tab.name, view: view.name }),
    })),
  );
  async function save() {
    mount(message);
    try {
      for (const view of views) {
        const mine = boxes.filter((b) => b.view === view);
        const changed = mine.some((b) => b.input.checked !== (view.form.tabs[b.tab].buttons || []).includes(button.rule_id));
        if (!changed) continue;
        const current = await request("GET", `/admin/views/${view.view_id}`);
        const form = structuredClone(current.data.form);
        for (const b of mine) {
          const others = (form.tabs[b.tab].buttons || []).filter((id) => id !== button.rule_id);
          form.tabs[b.tab].buttons = b.input.checked ? [...others, button.rule_id] : others;
        }
        const body = { name: current.data.name, base_filter: current.data.base_filter, form };
        const saved = await request("PUT", `/admin/views/${view.view_id}`, body, { ifMatch: current.etag });
        view.form = saved.data.form;
      }
      await reloadViews();
      flash(t("auto_placement_saved"));
    } catch (error) {
      mount(message, problem(error));
    }
  }
  return h(
    "section",
    { class: "panel", "aria-labelledby": headingId, "data-placement": button.rule_id },
    h("h2", { id: headingId }, `${t("auto_placement")}: ${button.trigger.label}`),
    h("fieldset", {}, h("legend", {}, button.name), boxes.map((b) => h("label", { class: "auto-check" }, b.input, " ", b.text))),
    message,
    h("button", { type: "button", class: "primary", onclick: save }, t("auto_save_placement")),
  );
}

// --- on the card -------------------------------------------------------------------------------

/** What automation adds to a tab of the card: its placed buttons and, on the first tab, merging
 * the relation with another one of the view. */
export function cardButtons(card, tabName, base, afterRun) {
  const first = card.tabs.length && card.tabs[0].name === tabName;
  const merging = first && card.can_edit && can(RIGHTS.merge) ? mergeWith(card) : null;
  const buttons = placedButtons(card, tabName, base, afterRun);
  return buttons || merging ? h("div", { class: "auto-card-tools" }, buttons, merging) : null;
}

/** Find another relation of the view to merge this one with (the merge screen compares). */
function mergeWith(card) {
  const search = h("input", { type: "search", id: "merge-with-search" });
  const hits = h("ul", { class: "plain-list", id: "merge-with-hits" });
  return h(
    "details",
    { class: "auto-merge-with" },
    h("summary", {}, t("auto_merge_with")),
    h(
      "form",
      {
        class: "row",
        onsubmit: async (event) => {
          event.preventDefault();
          try {
            const found = await get(`/views/${card.view_id}/search${query({ q: search.value, limit: 10 })}`);
            const others = found.filter((hit) => hit.relation_id !== card.relation_id && hit.relation_type === card.relation_type);
            mount(
              hits,
              others.length
                ? others.map((hit) => h("li", {}, h("a", { href: `#/views/${card.view_id}/merge/${card.relation_id}/${hit.relation_id}` }, t("auto_merge_with_name", { name: hit.display_name }))))
                : h("li", { class: "muted" }, t("no_results")),
            );
          } catch (error) {
            mount(hits, h("li", {}, problem(error)));
          }
        },
      },
      field(t("auto_find_relation"), search),
      h("button", { type: "submit" }, t("auto_search")),
    ),
    hits,
  );
}

function placedButtons(card, tabName, base, afterRun) {
  const placed = (card.buttons || []).filter((b) => b.tab === tabName);
  if (!placed.length || !card.can_edit || !can(RIGHTS.run)) return null;
  const outcome = h("div", { "aria-live": "polite", class: "auto-button-outcome" });
  return h(
    "div",
    { class: "auto-card-buttons", role: "group", "aria-label": t("auto_card_buttons") },
    h("div", { class: "row" }, placed.map((b) => h("button", { type: "button", "data-rule": b.rule_id, onclick: (e) => press(b, e.target) }, b.label))),
    outcome,
  );

  async function press(button, node) {
    node.disabled = true;
    try {
      const run = await post(`${base}/buttons/${button.rule_id}`);
      const label = run.label || button.label;
      const key = { done: "auto_button_done", skipped: "auto_button_skipped", failed: "auto_button_failed" }[run.status];
      const text = t(key, { label, message: run.message || "" });
      const changes = run.changes.map((c) => (c.hidden ? t("auto_hidden_change") : c.field ? `${fieldLabel(c.field)}: ${asText(c.new)}` : c.action));
      flash(text);
      await afterRun();
      // The card redraws after the run; tell the outcome in the new bar when there is one.
      const bar = document.querySelector(".auto-button-outcome") || outcome;
      mount(bar, h("p", { class: run.status === "done" ? "ok" : "notice" }, text, changes.length ? ` ${changes.join("; ")}` : ""));
    } catch (error) {
      mount(outcome, problem(error));
    } finally {
      node.disabled = false;
    }
  }
}
