// Merge rules (new relations that duplicate an existing one are merged at once when a rule
// fits) and generated properties (held while in a list, shown on cards): both for roles with
// automation.manage.

import { get, post, request } from "../../api.js";
import { field, flash, h, mount } from "../../dom.js";
import { t } from "../../i18n.js";
import { RIGHTS, knownLists, problem, requireRight } from "./common.js";

const MATCH_FIELDS = ["email", "birth_date", "last_name", "first_name", "initials", "phone", "address", "organisation_name", "coc_number", "iban"];
const KEEPS = ["non_empty", "existing", "new", "newest", "oldest"];

const listOptions = (lists) => [...lists].map(([id, name]) => h("option", { value: id }, name));

export async function renderMergeRules(main) {
  requireRight(RIGHTS.manage);
  const rules = await get("/automation/merge-rules");
  const lists = knownLists();
  const message = h("div", {});
  const redraw = () => renderMergeRules(main);
  const inputOf = ({ rule_id: _, position: __, created_at: ___, ...input }) => input;

  async function act(call) {
    try {
      await call();
      redraw();
    } catch (error) {
      mount(message, problem(error));
    }
  }

  const name = h("input", { id: "merge-rule-name", required: true, maxlength: 200, size: 40 });
  const checks = MATCH_FIELDS.map((f) => ({ f, input: h("input", { type: "checkbox", value: f }) }));
  const minStars = h("select", { id: "merge-rule-stars" }, [1, 2, 3, 4, 5].map((n) => h("option", { value: String(n), selected: n === 4 }, String(n))));
  const keep = h("select", { id: "merge-rule-keep" }, KEEPS.map((k) => h("option", { value: k }, t(`auto_keep_${k}`))));
  const inLists = h("select", { id: "merge-rule-lists", multiple: true, size: 4 }, listOptions(lists));
  const sources = h("input", { id: "merge-rule-sources", size: 40 });

  const form = h(
    "form",
    {
      class: "panel",
      id: "merge-rule-form",
      onsubmit: (event) => {
        event.preventDefault();
        act(async () => {
          await post("/automation/merge-rules", {
            name: name.value,
            match_fields: checks.filter((c) => c.input.checked).map((c) => c.f),
            min_stars: Number(minStars.value),
            default_keep: keep.value,
            list_ids: [...inLists.selectedOptions].map((o) => o.value),
            sources: sources.value.split(",").map((s) => s.trim()).filter(Boolean),
          });
          flash(t("auto_rule_saved"));
        });
      },
    },
    h("h2", {}, t("auto_merge_rule_new")),
    field(t("auto_rule_name"), name),
    h("fieldset", {}, h("legend", {}, t("auto_match_fields")), h("div", { class: "auto-checks" }, checks.map((c) => h("label", { class: "auto-check" }, c.input, " ", t(`auto_mf_${c.f}`))))),
    h("div", { class: "row" }, field(t("auto_min_stars"), minStars), field(t("auto_default_keep"), keep)),
    field(t("auto_lists_any"), inLists),
    field(t("auto_sources"), sources),
    h("button", { type: "submit", class: "primary" }, t("auto_add")),
  );

  mount(
    main,
    h("h1", {}, t("auto_merge_rules")),
    message,
    rules.length
      ? h(
          "table",
          { id: "merge-rules" },
          h("thead", {}, h("tr", {}, [t("auto_position"), t("auto_rule_name"), t("auto_match_fields"), t("auto_min_stars"), t("auto_status")].map((c) => h("th", { scope: "col" }, c)), h("th", { scope: "col" }, h("span", { class: "visually-hidden" }, t("auto_actions"))))),
          h(
            "tbody",
            {},
            rules.map((rule) =>
              h(
                "tr",
                {},
                h("td", {}, String(rule.position)),
                h("td", {}, rule.name),
                h("td", {}, rule.match_fields.map((f) => t(`auto_mf_${f}`)).join(", ")),
                h("td", {}, String(rule.min_stars)),
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
                    onclick: () => act(() => request("PUT", `/automation/merge-rules/${rule.rule_id}`, { ...inputOf(rule), enabled: !rule.enabled })),
                  }, rule.enabled ? t("auto_disable") : t("auto_enable")),
                  h("button", {
                    type: "button",
                    "aria-label": `${t("auto_delete")}: ${rule.name}`,
                    onclick: () => confirm(t("auto_confirm_delete", { name: rule.name })) && act(() => request("DELETE", `/automation/merge-rules/${rule.rule_id}`)),
                  }, t("auto_delete")),
                  ),
                ),
              ),
            ),
          ),
        )
      : h("p", { class: "muted" }, t("auto_no_merge_rules")),
    form,
  );
}

export async function renderProperties(main) {
  requireRight(RIGHTS.manage);
  const properties = await get("/automation/properties");
  const lists = knownLists();
  const message = h("div", { "aria-live": "polite" });
  const key = h("input", { id: "property-key", required: true, pattern: "[a-z][a-z0-9_]{0,62}", size: 30 });
  const label = h("input", { id: "property-label", required: true, maxlength: 200, size: 30 });
  const list = h("select", { id: "property-list", required: true }, h("option", { value: "" }, "—"), listOptions(lists));

  async function define(event) {
    event.preventDefault();
    try {
      const defined = await post("/automation/properties", { key: key.value, label: label.value, list_id: list.value });
      await renderProperties(main);
      flash(t("auto_property_defined", { count: defined.holders }));
    } catch (error) {
      mount(message, problem(error));
    }
  }

  async function remove(property) {
    if (!confirm(t("auto_confirm_delete", { name: property.label }))) return;
    try {
      await request("DELETE", `/automation/properties/${property.property_id}`);
      flash(t("auto_deleted"));
      await renderProperties(main);
    } catch (error) {
      mount(message, problem(error));
    }
  }

  mount(
    main,
    h("h1", {}, t("auto_properties")),
    properties.length
      ? h(
          "table",
          { id: "properties" },
          h("thead", {}, h("tr", {}, [t("auto_property_label"), t("auto_property_key"), t("auto_property_list")].map((c) => h("th", { scope: "col" }, c)), h("th", { scope: "col" }, h("span", { class: "visually-hidden" }, t("auto_actions"))))),
          h(
            "tbody",
            {},
            properties.map((p) =>
              h(
                "tr",
                {},
                h("td", {}, p.label),
                h("td", {}, h("code", {}, p.key)),
                h("td", {}, lists.get(p.list_id) || p.list_id),
                h("td", {}, h("button", { type: "button", "aria-label": `${t("auto_delete")}: ${p.label}`, onclick: () => remove(p) }, t("auto_delete"))),
              ),
            ),
          ),
        )
      : h("p", { class: "muted" }, t("auto_no_properties")),
    h(
      "form",
      { class: "panel", id: "property-form", onsubmit: define },
      h("div", { class: "row" }, field(t("auto_property_label"), label), field(t("auto_property_key"), key), field(t("auto_property_list"), list)),
      message,
      h("button", { type: "submit", class: "primary" }, t("auto_define")),
    ),
  );
}
