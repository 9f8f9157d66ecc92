// Adjustment rules (right automation.manage): the list with enable/disable, the editor
// (trigger, an optional condition of field and list criteria, actions), the run log per rule
// and, for a button rule a view places on the card, running it now for one relation.

import { moment } from "../../format.js";
import { get, post, query, request } from "../../api.js";
import { field, flash, h, mount } from "../../dom.js";
import { fieldLabel, language, t } from "../../i18n.js";
import { go } from "../../router.js";
import { currentView, session } from "../../state.js";
import { RIGHTS, asText, knownLists, problem, requireRight } from "./common.js";

const TRIGGERS = ["created", "field_changed", "entered_list", "left_list", "button"];
const OPS = ["equals", "not_equals", "contains", "starts_with", "empty", "not_empty", "lt", "gt"];
const OP_LABEL = { empty: "op_empty", not_empty: "op_not_empty" };
const ACTIONS = ["set_field", "clear_field", "log_contact_moment", "add_to_selection", "remove_from_selection", "add_function", "end_function"];
const CONTACT_KINDS = ["phone", "email", "visit", "letter", "meeting", "other"];

export const isButton = (rule) => rule.trigger.kind === "button";

export async function renderRules(main) {
  requireRight(RIGHTS.manage);
  const rules = (await get("/automation/rules")).filter((rule) => !isButton(rule));
  mount(
    main,
    h("h1", {}, t("auto_rules")),
    h("p", {}, h("a", { class: "button primary", href: "#/automation/rules/new" }, t("auto_rule_new"))),
    ruleTable(rules, "rules-table", () => renderRules(main)),
  );
}

/** Rules (or buttons) with their state and what one can do with each. */
export function ruleTable(rules, id, redraw) {
  if (!rules.length) return h("p", { class: "muted" }, t(id === "buttons-table" ? "auto_no_buttons" : "auto_no_rules"));
  const message = h("div", {});
  return h(
    "div",
    {},
    message,
    h(
      "table",
      { id },
      h("thead", {}, h("tr", {}, h("th", { scope: "col" }, t("auto_rule_name")), h("th", { scope: "col" }, t("auto_trigger")), h("th", { scope: "col" }, t("auto_status")), h("th", { scope: "col" }, h("span", { class: "visually-hidden" }, t("auto_actions"))))),
      h(
        "tbody",
        {},
        rules.map((rule) =>
          h(
            "tr",
            { "data-rule": rule.rule_id },
            h("td", {}, h("a", { href: `#/automation/rules/${rule.rule_id}` }, rule.name)),
            h("td", {}, triggerText(rule.trigger)),
            h("td", {}, rule.enabled ? t("auto_enabled") : t("auto_disabled")),
            h(
              "td",
              {},
              h(
              "div",
              { class: "row" },
              h("button", {
                type: "button",
                "aria-label": `${rule.enabled ? t("auto_disable") : t("auto_enable")}: ${rule.name}`,
                onclick: async () => {
                  try {
                    await request("PUT", `/automation/rules/${rule.rule_id}`, inputOf({ ...rule, enabled: !rule.enabled }));
                    redraw();
                  } catch (error) {
                    mount(message, problem(error));
                  }
                },
              }, rule.enabled ? t("auto_disable") : t("auto_enable")),
              h("a", { class: "button", href: `#/automation/rules/${rule.rule_id}`, "aria-label": `${t("auto_run_log")}: ${rule.name}` }, t("auto_run_log")),
              ),
            ),
          ),
        ),
      ),
    ),
  );
}

function inputOf(rule) {
  const { name, trigger, condition, actions, enabled } = rule;
  return { name, trigger, condition: condition ?? null, actions, enabled };
}

export function triggerText(trigger) {
  const lists = knownLists();
  const base = t(`auto_trigger_${trigger.kind}`);
  if (trigger.kind === "field_changed") return `${base}: ${fieldLabel(trigger.field)}`;
  if (trigger.kind === "entered_list" || trigger.kind === "left_list") return `${base}: ${lists.get(trigger.list_id) || trigger.list_id}`;
  if (trigger.kind === "button") return `${base}: ${trigger.label}`;
  return base;
}

// --- the editor --------------------------------------------------------------------------------

export async function renderRuleEditor(main, { rule: ruleId }, { button = false } = {}) {
  requireRight(RIGHTS.manage);
  const existing = ruleId ? await get(`/automation/rules/${ruleId}`) : null;
  const view = currentView();
  const catalogue = view ? await get(`/views/${view.view_id}/fields`).catch(() => ({ fields: [] })) : { fields: [] };
  const lists = knownLists();
  const datalist = h("datalist", { id: "auto-field-names" }, catalogue.fields.map((f) => h("option", { value: f.name }, fieldLabel(f.name, f.label))));
  const state = existing
    ? structuredClone(existing)
    : { name: "", trigger: button ? { kind: "button", label: "" } : { kind: "created" }, condition: null, actions: [{ kind: "set_field", field: "", value: "" }], enabled: true };
  const condition = conditionState(state.condition);
  const message = h("div", {});
  const triggerBox = h("div", {});
  const conditionBox = h("div", {});
  const actionsBox = h("div", {});

  const fieldInput = (value, onchange, label = t("auto_field")) =>
    field(label, h("input", { list: "auto-field-names", value: value || "", required: true, oninput: (e) => onchange(e.target.value) }));
  const listSelect = (value, onchange, label = t("auto_list")) =>
    field(label, h("select", { required: true, onchange: (e) => onchange(e.target.value) }, h("option", { value: "" }, "—"), [...lists].map(([id, name]) => h("option", { value: id, selected: id === value }, name))));

  function drawTrigger() {
    const trigger = state.trigger;
    mount(
      triggerBox,
      h(
        "div",
        { class: "row" },
        field(t("auto_trigger"), h("select", {
          id: "rule-trigger",
          onchange: (e) => {
            state.trigger = { kind: e.target.value };
            drawTrigger();
          },
        }, TRIGGERS.map((kind) => h("option", { value: kind, selected: kind === trigger.kind }, t(`auto_trigger_${kind}`))))),
        trigger.kind === "field_changed" ? fieldInput(trigger.field, (v) => (trigger.field = v)) : null,
        trigger.kind === "entered_list" || trigger.kind === "left_list" ? listSelect(trigger.list_id, (v) => (trigger.list_id = v)) : null,
        trigger.kind === "button" ? field(t("auto_button_label"), h("input", { id: "button-label", value: trigger.label || "", maxlength: 100, required: true, oninput: (e) => (trigger.label = e.target.value) })) : null,
      ),
    );
  }

  function drawCondition() {
    if (condition.raw) {
      return mount(conditionBox, h("p", { class: "notice" }, JSON.stringify(condition.raw)));
    }
    mount(
      conditionBox,
      field(t("auto_cond_match"), h("select", { id: "condition-match", onchange: (e) => (condition.combinator = e.target.value) },
        h("option", { value: "all", selected: condition.combinator === "all" }, t("auto_cond_all")),
        h("option", { value: "any", selected: condition.combinator === "any" }, t("auto_cond_any")))),
      condition.items.map((item, i) =>
        h(
          "div",
          { class: "criterion" },
          item.kind === "in_list"
            ? listSelect(item.list_id, (v) => (item.list_id = v), t("auto_in_list"))
            : [
                fieldInput(item.field, (v) => (item.field = v)),
                field(t("operator"), h("select", { onchange: (e) => ((item.op = e.target.value), drawCondition()) }, OPS.map((op) => h("option", { value: op, selected: op === item.op }, t(OP_LABEL[op] || `op_${op}`))))),
                item.op === "empty" || item.op === "not_empty" ? null : field(t("value"), h("input", { value: item.value ?? "", oninput: (e) => (item.value = e.target.value) })),
              ],
          h("button", { type: "button", onclick: () => (condition.items.splice(i, 1), drawCondition()) }, t("auto_remove")),
        ),
      ),
      h(
        "div",
        { class: "row" },
        h("button", { type: "button", onclick: () => (condition.items.push({ kind: "field", field: "", op: "equals", value: "" }), drawCondition()) }, t("auto_add_field_criterion")),
        h("button", { type: "button", onclick: () => (condition.items.push({ kind: "in_list", list_id: "" }), drawCondition()) }, t("auto_add_list_criterion")),
      ),
    );
  }

  function drawActions() {
    mount(
      actionsBox,
      state.actions.map((action, i) =>
        h(
          "div",
          { class: "criterion", "data-action": i },
          field(t("auto_action"), h("select", {
            onchange: (e) => {
              state.actions[i] = { kind: e.target.value };
              drawActions();
            },
          }, ACTIONS.map((kind) => h("option", { value: kind, selected: kind === action.kind }, t(`auto_act_${kind}`))))),
          actionFields(action),
          state.actions.length > 1 ? h("button", { type: "button", onclick: () => (state.actions.splice(i, 1), drawActions()) }, t("auto_remove")) : null,
        ),
      ),
      h("button", { type: "button", onclick: () => (state.actions.push({ kind: "set_field", field: "", value: "" }), drawActions()) }, t("auto_add_action")),
    );
  }

  function actionFields(action) {
    const text = (key, label, attrs = {}) => field(label, h("input", { value: action[key] ?? "", required: true, ...attrs, oninput: (e) => (action[key] = e.target.value) }));
    switch (action.kind) {
      case "set_field":
        return [fieldInput(action.field, (v) => (action.field = v)), text("value", t("auto_value_hint"), { required: false })];
      case "clear_field":
        return fieldInput(action.field, (v) => (action.field = v));
      case "log_contact_moment":
        action.contact_kind ??= "other";
        action.direction ??= "out";
        return [
          field(t("kind"), h("select", { onchange: (e) => (action.contact_kind = e.target.value) }, CONTACT_KINDS.map((k) => h("option", { value: k, selected: k === action.contact_kind }, t(`moment_${k}`))))),
          field(t("direction"), h("select", { onchange: (e) => (action.direction = e.target.value) }, h("option", { value: "out", selected: action.direction === "out" }, t("outgoing")), h("option", { value: "in", selected: action.direction === "in" }, t("incoming")))),
          text("subject", t("subject"), { maxlength: 200 }),
        ];
      case "add_to_selection":
      case "remove_from_selection":
        return text("selection_id", t("auto_selection_id"));
      default:
        return [text("role", t("auto_function_role")), text("object_id", t("auto_organisation_id"), { required: action.kind === "add_function" })];
    }
  }

  async function save(event) {
    event.preventDefault();
    mount(message);
    const body = {
      ...inputOf(state),
      condition: conditionOf(condition),
      actions: state.actions.map((a) => Object.fromEntries(Object.entries(a).filter(([, v]) => v !== "" || a.kind === "set_field"))),
    };
    try {
      const saved = existing ? (await request("PUT", `/automation/rules/${existing.rule_id}`, body)).data : await post("/automation/rules", body);
      flash(t("auto_rule_saved"));
      if (existing) renderRuleEditor(main, { rule: saved.rule_id });
      else go(`/automation/rules/${saved.rule_id}`);
    } catch (error) {
      mount(message, problem(error));
    }
  }

  async function remove() {
    if (!confirm(t("auto_confirm_delete", { name: existing.name }))) return;
    try {
      await request("DELETE", `/automation/rules/${existing.rule_id}`);
      flash(t("auto_deleted"));
      go(isButton(existing) ? "/automation/buttons" : "/automation/rules");
    } catch (error) {
      mount(message, problem(error));
    }
  }

  const title = existing ? `${t("auto_rule_edit")}: ${existing.name}` : t(button ? "auto_button_new" : "auto_rule_new");
  mount(
    main,
    h("h1", {}, title),
    datalist,
    h(
      "form",
      { id: "rule-form", class: "panel", onsubmit: save },
      field(t("auto_rule_name"), h("input", { id: "rule-name", value: state.name, required: true, maxlength: 200, size: 50, oninput: (e) => (state.name = e.target.value) })),
      h("fieldset", {}, h("legend", {}, t("auto_trigger")), triggerBox),
      h("fieldset", { id: "rule-condition" }, h("legend", {}, t("auto_condition")), conditionBox),
      h("fieldset", { id: "rule-actions" }, h("legend", {}, t("auto_actions")), actionsBox),
      h("label", { class: "auto-check" }, h("input", { type: "checkbox", id: "rule-enabled", checked: state.enabled, onchange: (e) => (state.enabled = e.target.checked) }), " ", t("auto_enabled")),
      message,
      h(
        "div",
        { class: "row" },
        h("button", { type: "submit", class: "primary", id: "rule-save" }, t("save")),
        existing ? h("button", { type: "button", onclick: remove }, t("auto_delete")) : null,
      ),
    ),
    existing && isButton(existing) ? runNow(existing) : null,
    existing ? runLog(existing) : null,
  );
  drawTrigger();
  drawCondition();
  drawActions();
}

function conditionState(condition) {
  const simple = (c) => c && (c.kind === "field" || c.kind === "in_list") && !c.not;
  if (!condition) return { combinator: "all", items: [] };
  if (simple(condition)) return { combinator: "all", items: [{ ...condition }] };
  const combinator = condition.all ? "all" : condition.any ? "any" : null;
  const items = combinator ? condition[combinator] : null;
  if (items && items.every(simple)) return { combinator, items: items.map((c) => ({ ...c })) };
  return { combinator: "all", items: [], raw: condition }; // kept as it is: edited through the API
}

function conditionOf(condition) {
  if (condition.raw) return condition.raw;
  const items = condition.items.map((item) => {
    if (item.kind === "in_list") return { kind: "in_list", list_id: item.list_id };
    const criterion = { kind: "field", field: item.field, op: item.op };
    if (item.op !== "empty" && item.op !== "not_empty") criterion.value = typed(item.value);
    return criterion;
  });
  if (!items.length) return null;
  return items.length === 1 ? items[0] : { [condition.combinator]: items };
}

function typed(value) {
  if (value === "true") return true;
  if (value === "false") return false;
  return value;
}

// --- running and the run log -------------------------------------------------------------------

function placingViews(rule) {
  return session.views.filter((view) => view.form.tabs.some((tab) => (tab.buttons || []).includes(rule.rule_id)));
}

function runNow(rule) {
  const views = placingViews(rule);
  const box = h("section", { class: "panel", "aria-labelledby": "run-now-title" }, h("h2", { id: "run-now-title" }, t("auto_run_now")));
  if (!views.length) {
    box.append(h("p", { class: "muted" }, t("auto_run_not_placed")));
    return box;
  }
  const viewSelect = h("select", { id: "run-view" }, views.map((v) => h("option", { value: v.view_id }, v.name)));
  const search = h("input", { id: "run-search", type: "search" });
  const hits = h("ul", { class: "plain-list", id: "run-hits" });
  const outcome = h("div", { "aria-live": "polite" });
  box.append(
    h(
      "form",
      {
        class: "row",
        onsubmit: async (event) => {
          event.preventDefault();
          try {
            const found = await get(`/views/${viewSelect.value}/search${query({ q: search.value, limit: 10 })}`);
            mount(hits, found.map((hit) => h("li", {}, h("button", { type: "button", onclick: () => press(hit) }, `${t("auto_run_now")}: ${hit.display_name}`))));
          } catch (error) {
            mount(outcome, problem(error));
          }
        },
      },
      field(t("auto_run_view"), viewSelect),
      field(t("auto_find_relation"), search),
      h("button", { type: "submit" }, t("auto_search")),
    ),
    hits,
    outcome,
  );

  async function press(hit) {
    try {
      const run = await post(`/views/${viewSelect.value}/relations/${hit.relation_id}/buttons/${rule.rule_id}`);
      mount(outcome, h("p", { class: run.status === "done" ? "ok" : "notice" }, `${hit.display_name}: ${t(`auto_run_${run.status}`)}${run.message ? ` (${run.message})` : ""}`));
      document.getElementById("run-log-refresh")?.click();
    } catch (error) {
      mount(outcome, problem(error));
    }
  }
  return box;
}

function runLog(rule) {
  const body = h("div", {});
  const box = h(
    "section",
    { class: "panel", "aria-labelledby": "run-log-title" },
    h("div", { class: "row auto-spread" }, h("h2", { id: "run-log-title" }, t("auto_run_log")), h("button", { type: "button", id: "run-log-refresh", onclick: () => load() }, t("auto_refresh"))),
    body,
  );
  const view = currentView();
  async function load() {
    try {
      const runs = await get(`/automation/rules/${rule.rule_id}/runs${query({ limit: 50 })}`);
      mount(body, runs.length ? runTable(runs, view) : h("p", { class: "muted" }, t("auto_no_runs")));
    } catch (error) {
      mount(body, problem(error));
    }
  }
  load();
  return box;
}

function runTable(runs, view) {
  return h(
    "table",
    { id: "run-log" },
    h("thead", {}, h("tr", {}, [t("auto_when"), t("auto_relation"), t("auto_trigger"), t("auto_status"), t("auto_changes")].map((c) => h("th", { scope: "col" }, c)))),
    h(
      "tbody",
      {},
      runs.map((run) =>
        h(
          "tr",
          {},
          h("td", {}, moment(run.ran_at || run.queued_at)),
          h("td", {}, view ? h("a", { href: `#/views/${view.view_id}/relations/${run.relation_id}` }, run.relation_id.slice(0, 8)) : run.relation_id),
          h("td", {}, Object.entries(run.trigger).map(([k, v]) => `${k}: ${asText(v)}`).join(", ")),
          h("td", { class: `auto-run-${run.status}` }, t(`auto_run_${run.status}`) + (run.error ? ` — ${run.error}` : "")),
          h("td", {}, (run.changes || []).map((c) => h("div", {}, c.field ? `${fieldLabel(c.field)}: ${asText(c.old)} → ${asText(c.new)}` : c.action))),
        ),
      ),
    ),
  );
}
