// Showing and editing the values of a relation's fields: plain fields, custom fields (typed by
// the field catalogue) and the repeating ones (addresses, phone numbers, e-mail addresses).

import { field, h } from "../dom.js";
import { fieldLabel } from "../i18n.js";

const REPEATING = {
  addresses: {
    parts: ["street", "house_number", "postal_code", "city", "country"],
    types: ["home", "work", "postal", "visiting", "billing", "other"],
  },
  phones: { parts: ["number"], types: ["mobile", "home", "work", "fax", "other"] },
  emails: { parts: ["address"], types: ["private", "work", "other"] },
};
const GENDERS = ["female", "male", "non_binary", "unknown"];

export function showValue(name, value, t) {
  if (value === null || value === undefined || value === "" || (Array.isArray(value) && !value.length)) {
    return h("span", { class: "muted" }, "—");
  }
  if (name === "addresses") {
    return value.map((a) =>
      h(
        "div",
        {},
        `${[a.street, a.house_number].filter(Boolean).join(" ")}, ${[a.postal_code, a.city].filter(Boolean).join(" ")}${a.country && a.country !== "NL" ? `, ${a.country}` : ""} `,
        h("span", { class: "badge" }, t(a.type)),
      ),
    );
  }
  if (name === "phones" || name === "emails") {
    return value.map((item) =>
      h("div", {}, item.number || item.address, " ", h("span", { class: "badge" }, t(item.type))),
    );
  }
  if (typeof value === "boolean") return value ? t("yes") : t("no");
  if (name === "gender") return t(value);
  return String(value);
}

/** An editor: { node, read() } giving the new value (null clears a field). */
export function editorFor(name, value, spec, t) {
  if (REPEATING[name]) return repeating(name, value || [], t);
  if (name === "relation_number") {
    return { node: field(fieldLabel(name), h("input", { value: value ?? "", readonly: true })), read: () => value };
  }
  let control;
  let read;
  const type = name.startsWith("custom.") && spec ? spec.type : null;
  if (name === "gender" || (type === "choice" && spec.choices.length)) {
    const options = name === "gender" ? GENDERS : spec.choices;
    control = h("select", { name }, h("option", { value: "" }, "—"), options.map((o) => h("option", { value: o, selected: o === value }, t(o))));
    read = () => control.value || null;
  } else if (type === "boolean") {
    control = h(
      "select",
      { name },
      h("option", { value: "" }, "—"),
      h("option", { value: "true", selected: value === true }, t("yes")),
      h("option", { value: "false", selected: value === false }, t("no")),
    );
    read = () => (control.value === "" ? null : control.value === "true");
  } else {
    const inputType = name === "birth_date" || type === "date" ? "date" : type === "number" || type === "money" ? "number" : "text";
    control = h("input", { name, type: inputType, value: value ?? "" });
    read = () => {
      const raw = control.value.trim();
      if (raw === "") return null;
      return inputType === "number" ? Number(raw) : raw;
    };
  }
  return { node: field(fieldLabel(name, spec?.label), control), read };
}

export function readValue(editor) {
  return editor.read();
}

// A repeating field: one fieldset per item, with its type, its parts and a remove button.
function repeating(name, items, t) {
  const { parts, types } = REPEATING[name];
  const rows = items.map((item) => ({ ...item }));
  const list = h("div", {});
  const node = h("fieldset", { "data-field": name }, h("legend", {}, fieldLabel(name)), list);

  function draw() {
    list.replaceChildren(
      ...rows.map((row, i) =>
        h(
          "div",
          { class: "row", role: "group", "aria-label": `${fieldLabel(name)} ${i + 1}` },
          field(
            t("type"),
            h(
              "select",
              { name: `${name}.${i}.type`, onchange: (e) => (row.type = e.target.value) },
              types.map((type) => h("option", { value: type, selected: (row.type || types[0]) === type }, t(type))),
            ),
          ),
          parts.map((part) =>
            field(
              fieldLabel(part),
              h("input", {
                name: `${name}.${i}.${part}`,
                value: row[part] ?? "",
                size: part === "house_number" || part === "country" ? 6 : part === "postal_code" ? 8 : 18,
                oninput: (e) => (row[part] = e.target.value),
              }),
            ),
          ),
          h("button", { type: "button", onclick: () => (rows.splice(i, 1), draw()) }, t("remove")),
        ),
      ),
      h("button", { type: "button", onclick: () => (rows.push({ type: types[0] }), draw()) }, `+ ${t("add")}`),
    );
  }
  draw();
  return {
    node,
    read: () =>
      rows
        .map((row) => {
          const out = { type: row.type || types[0] };
          for (const part of parts) {
            const value = (row[part] ?? "").trim();
            if (value) out[part] = value;
          }
          return out;
        })
        .filter((row) => parts.some((part) => row[part])),
  };
}
