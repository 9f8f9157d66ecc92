// Custom fields (administration): define a field (key and type are fixed once made) and
// change its label or validation. A definition has one label; a relation card can give the
// field a label per language (the form editor).

import { get, post, request } from "../../api.js";
import { flash, h, mount, nextId } from "../../dom.js";
import { messageOf, t } from "../../i18n.js";
import { adminHeader, problemBox, textInput } from "./common.js";

const TYPES = ["text", "number", "date", "boolean", "choice", "money"];
const APPLIES = [
  ["both", "adm_both"],
  ["person", "adm_persons"],
  ["organisation", "adm_organisations"],
];

export async function renderAdminFields(main) {
  const definitions = await get("/admin/custom-fields");
  const problem = problemBox();
  const redraw = () => renderAdminFields(main);

  /** The inputs of a definition; `definition` null for a new field. */
  function definitionForm(definition) {
    const prefix = nextId("adm-cf");
    const id = (part) => `${prefix}-${part}`;
    const value = (part) => document.getElementById(id(part)).value.trim();
    const number = (part) => (value(part) === "" ? null : value(part));
    const select = (part, options, selected, disabled) =>
      h("select", { id: id(part), disabled }, options.map(([code, key]) => h("option", { value: code, selected: code === selected }, t(key))));
    const name = definition ? definition.key : null;
    const caption = (key) => (name ? `${t(key)}: ${name}` : t(key));
    return h(
      "form",
      {
        class: "panel",
        "data-field": name,
        "aria-labelledby": id("title"),
        onsubmit: async (event) => {
          event.preventDefault();
          problem.textContent = "";
          const type = value("type");
          const body = {
            key: value("key"),
            label: value("label"),
            type,
            required: document.getElementById(id("required")).checked,
            applies_to: value("applies"),
            choices: type === "choice" ? value("choices").split(",").map((c) => c.trim()).filter(Boolean) : null,
            min_value: ["number", "money"].includes(type) ? number("min") : null,
            max_value: ["number", "money"].includes(type) ? number("max") : null,
            max_length: type === "text" && value("length") ? Number(value("length")) : null,
            pattern: type === "text" ? number("pattern") : null,
          };
          if (definition && definition.currency) body.currency = definition.currency;
          for (const [key, item] of Object.entries(body)) if (item === null) delete body[key];
          try {
            if (definition) await request("PUT", `/admin/custom-fields/${encodeURIComponent(definition.key)}`, body);
            else await post("/admin/custom-fields", body);
            flash(t("adm_field_saved"));
            await redraw();
          } catch (error) {
            problem.textContent = messageOf(error);
          }
        },
      },
      h("h2", { id: id("title") }, definition ? h("code", {}, definition.key) : t("adm_new_field"), definition ? ` ${definition.label}` : null),
      h(
        "div",
        { class: "row" },
        textInput(id("key"), caption("adm_field_key"), definition ? definition.key : "", {
          required: true,
          readonly: Boolean(definition),
          pattern: "[a-z][a-z0-9_]*",
        }),
        textInput(id("label"), caption("adm_field_label"), definition ? definition.label : "", {
          required: true,
          "aria-describedby": id("one"),
        }),
        h(
          "div",
          { class: "field" },
          h("label", { for: id("type") }, caption("adm_field_type")),
          select("type", TYPES.map((code) => [code, `adm_type_${code}`]), definition ? definition.type : "text", Boolean(definition)),
        ),
        h("div", { class: "field" }, h("label", { for: id("applies") }, caption("adm_applies_to")), select("applies", APPLIES, definition ? definition.applies_to : "both")),
        h(
          "span",
          { class: "adm-check" },
          h("input", { type: "checkbox", id: id("required"), checked: Boolean(definition && definition.required) }),
          h("label", { for: id("required") }, caption("adm_required")),
        ),
      ),
      h(
        "div",
        { class: "row" },
        textInput(id("choices"), caption("adm_choices"), definition && definition.choices ? definition.choices.join(", ") : ""),
        textInput(id("min"), caption("adm_min"), definition ? definition.min_value ?? "" : "", { inputmode: "decimal" }),
        textInput(id("max"), caption("adm_max"), definition ? definition.max_value ?? "" : "", { inputmode: "decimal" }),
        textInput(id("length"), caption("adm_max_length"), definition ? definition.max_length ?? "" : "", { inputmode: "numeric" }),
        textInput(id("pattern"), caption("adm_pattern"), definition ? definition.pattern ?? "" : ""),
      ),
      h("p", { class: "muted", id: id("one") }, t("adm_one_language")),
      h("p", {}, h("button", { type: "submit", class: "primary", "aria-label": name ? `${t("save")}: ${name}` : null }, definition ? t("save") : t("adm_create"))),
    );
  }

  mount(
    main,
    adminHeader(t("adm_fields")),
    problem,
    definitionForm(null),
    definitions.map((definition) => definitionForm(definition)),
  );
}
