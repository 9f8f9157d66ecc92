// Create a person or an organisation from a view, with the fields of the view's form. While
// the name is typed, relations of the view with that name are shown (a likely duplicate is
// better opened than created again). The answer says whether the new relation falls in the
// view's scope; only then can its card be opened here.

import { get, post, query } from "../../api.js";
import { debounce, flash, h, mount } from "../../dom.js";
import { messageOf, t } from "../../i18n.js";
import { session, setCurrentView, viewById } from "../../state.js";
import { editorFor, readValue } from "../fields.js";
import { hitDetail } from "./functions.js";
import { waitForCard } from "./header.js";
import "./words.js";

const SECTIONS = ["functions", "contact_moments", "lists", "history", "donations", "registrations", "properties"];
const PERSON_ONLY = ["first_name", "initials", "infix", "last_name", "salutation", "gender", "birth_date"];
const ORGANISATION_ONLY = ["organisation_name", "coc_number"];
const NAME_PARTS = { person: ["first_name", "infix", "last_name"], organisation: ["organisation_name"] };
const REPEATING = ["addresses", "phones", "emails"];

export const mayCreate = (view) => Boolean(view?.can_edit && session.me?.rights?.includes("relations.create"));

export async function renderCreate(main, { view: viewId }) {
  const view = viewById(viewId);
  if (!view) throw Object.assign(new Error("not found"), { status: 404 });
  setCurrentView(viewId);
  if (!mayCreate(view)) {
    mount(main, h("h1", {}, t("day_new_relation")), h("p", { class: "notice" }, t("day_cannot_create")));
    return null;
  }
  const catalogue = await get(`/views/${viewId}/fields`);
  const types = new Map(catalogue.fields.map((f) => [f.name, f]));
  const formFields = view.form.tabs.flatMap((tab) => tab.fields).filter((name) => !SECTIONS.includes(name) && name !== "relation_number");
  let kind = formFields.some((n) => PERSON_ONLY.includes(n)) || !formFields.some((n) => ORGANISATION_ONLY.includes(n)) ? "person" : "organisation";
  let editors = [];
  let asked = 0;

  const heading = h("h1", { id: "create-title", tabindex: "-1" }, t("day_new_relation"));
  const fieldsBox = h("div", { id: "create-fields" });
  const duplicates = h("div", { id: "duplicate-warning", "aria-live": "polite" });
  const problem = h("div", { role: "alert" });
  const result = h("div", { id: "create-result", tabindex: "-1" });

  const applies = (name) => (kind === "person" ? !ORGANISATION_ONLY.includes(name) : !PERSON_ONLY.includes(name));
  const typed = () =>
    NAME_PARTS[kind]
      .map((name) => editors.find((e) => e.name === name))
      .filter(Boolean)
      .map((e) => readValue(e.editor) || "")
      .join(" ")
      .replace(/\s+/g, " ")
      .trim();

  // Likely duplicates: the view's search by the typed name (the gateway scores duplicates
  // only between stored relations, so an unsaved one is compared by name).
  const lookForDuplicates = debounce(async () => {
    const name = typed();
    const ask = ++asked;
    if (name.length < 2) return mount(duplicates);
    let hits = [];
    try {
      hits = await get(`/views/${viewId}/search${query({ q: name, limit: 8 })}`);
    } catch {
      return; // a warning is a courtesy: creating still works
    }
    if (ask !== asked) return;
    hits = hits.filter((hit) => !hit.relation_type || hit.relation_type === kind);
    mount(
      duplicates,
      hits.length
        ? h(
            "div",
            { class: "notice" },
            h("p", {}, h("strong", {}, t("day_possible_duplicates"))),
            h(
              "ul",
              { class: "plain-list" },
              hits.map((hit) =>
                h(
                  "li",
                  {},
                  h("a", { href: `#/views/${viewId}/relations/${hit.relation_id}` }, hit.display_name),
                  hitDetail(hit) ? h("span", { class: "muted" }, ` · ${hitDetail(hit)}`) : null,
                ),
              ),
            ),
            h("p", { class: "muted" }, t("day_duplicates_hint")),
          )
        : null,
    );
  }, 300);

  function drawFields() {
    editors = formFields
      .filter(applies)
      .map((name) => ({ name, editor: editorFor(name, REPEATING.includes(name) ? [{}] : null, types.get(name), t) }));
    mount(fieldsBox, editors.map(({ editor }) => editor.node));
    for (const name of NAME_PARTS[kind]) fieldsBox.querySelector(`[name='${name}']`)?.addEventListener("input", lookForDuplicates);
    mount(duplicates);
  }

  const kindChoice = h(
    "fieldset",
    { class: "row day-kind" },
    h("legend", {}, t("day_kind_of_relation")),
    ["person", "organisation"].map((value) =>
      h(
        "label",
        { class: "day-choice" },
        h("input", {
          type: "radio",
          name: "relation_type",
          value,
          checked: kind === value,
          onchange: () => {
            kind = value;
            drawFields();
          },
        }),
        " ",
        t(value),
      ),
    ),
  );

  async function create(event) {
    event.preventDefault();
    mount(problem);
    const fields = {};
    for (const { name, editor } of editors) {
      const value = readValue(editor);
      if (value === null || value === undefined || value === "" || (Array.isArray(value) && !value.length)) continue;
      if (name.startsWith("custom.")) fields.custom = { ...(fields.custom || {}), [name.slice(7)]: value };
      else fields[name] = value;
    }
    try {
      const created = await post(`/views/${viewId}/relations`, { relation_type: kind, fields });
      // The card opens once the view's lists have taken the new relation in (within moments).
      if (created.in_view !== false) await waitForCard(`/views/${viewId}/relations/${created.relation_id}`);
      showResult(created, typed() || t(kind));
    } catch (error) {
      const detail = Array.isArray(error.detail)
        ? error.detail.map((d) => `${(d.loc || []).slice(-1).join("")}: ${d.msg}`).join("; ")
        : messageOf(error);
      mount(problem, h("p", { class: "error" }, detail));
    }
  }

  function showResult(created, name) {
    const params = { name, number: created.relation_number };
    const key = created.in_view === true ? "day_created_in_view" : created.in_view === false ? "day_created_outside" : "day_created_unknown";
    mount(
      result,
      h(
        "div",
        { class: created.in_view === false ? "notice" : "ok" },
        h("p", {}, t(key, params)),
        h(
          "p",
          { class: "row" },
          created.in_view !== false ? h("a", { class: "button primary", href: `#/views/${viewId}/relations/${created.relation_id}` }, t("day_open_card")) : null,
          h("button", { type: "button", onclick: () => (form.reset(), drawFields(), mount(result), heading.focus()) }, t("day_create_another")),
        ),
      ),
    );
    flash(t(key, params));
    result.focus();
  }

  const form = h(
    "form",
    { id: "create-form", class: "panel", onsubmit: create, "aria-labelledby": "create-title" },
    kindChoice,
    fieldsBox,
    duplicates,
    problem,
    h("button", { type: "submit", class: "primary" }, t("day_create")),
  );
  drawFields();
  mount(main, heading, h("p", { class: "muted" }, view.name), form, result);
  fieldsBox.querySelector("input")?.focus();
  return null;
}
