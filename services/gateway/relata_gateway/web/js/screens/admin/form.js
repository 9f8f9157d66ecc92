// A view's relation card (administration): its tabs and, on each, the fields and sections it
// shows, in order. Tabs and fields are ordered by dragging or with move up/down buttons (the
// keyboard way); each tab and field can have a label per language. A field not placed on any
// tab is hidden: the view shows nothing of it.

import { ApiError, get, request } from "../../api.js";
import { flash, h, mount } from "../../dom.js";
import { messageOf, t } from "../../i18n.js";
import { reloadViews } from "../../state.js";
import { adminHeader, inLanguage, problemBox } from "./common.js";

const KINDS = [
  ["standard", "adm_standard"],
  ["custom", "adm_custom"],
  ["section", "adm_sections_group"],
];

export async function renderFormEditor(main, { view: viewId }) {
  const [first, catalogue] = await Promise.all([
    request("GET", `/admin/views/${viewId}`),
    get("/admin/forms/catalogue"),
  ]);
  const view = first.data;
  let etag = first.etag;
  const known = new Map(catalogue.items.map((item) => [item.name, item]));
  const tabs = view.form.tabs.map((tab) => ({
    ...tab,
    fields: [...tab.fields],
    nl: tab.labels ? tab.labels.nl : "",
    en: tab.labels ? tab.labels.en : "",
  }));
  const overrides = Object.fromEntries(
    Object.entries(view.form.field_labels || {}).map(([name, labels]) => [name, { ...labels }]),
  );
  let dragging = null; // { tab } or { tab, field } while something is dragged
  const problem = problemBox();
  const list = h("ol", { id: "adm-tabs", class: "adm-tabs" });
  const hidden = h("section", { class: "panel", "aria-labelledby": "adm-hidden-title" });

  const defaultLabel = (name) => inLanguage(known.get(name)?.labels, name);

  function moveTo(items, from, to) {
    const [item] = items.splice(from, 1);
    items.splice(to, 0, item);
  }

  /** Redraw, then put the keyboard focus back on the control with this id (or its twin). */
  function redraw(focusId, twinId) {
    mount(list, tabs.map(drawTab));
    drawHidden();
    const target = document.getElementById(focusId);
    const next = target && !target.disabled ? target : document.getElementById(twinId);
    if (next) next.focus();
  }

  function moveButtons(prefix, name, index, count, move) {
    return [
      h(
        "button",
        {
          type: "button",
          id: `${prefix}-up`,
          class: "adm-move",
          disabled: index === 0,
          "aria-label": t("adm_move_up", { name }),
          onclick: () => move(index - 1, "up", "down"),
        },
        "↑",
      ),
      h(
        "button",
        {
          type: "button",
          id: `${prefix}-down`,
          class: "adm-move",
          disabled: index === count - 1,
          "aria-label": t("adm_move_down", { name }),
          onclick: () => move(index + 1, "down", "up"),
        },
        "↓",
      ),
    ];
  }

  function labelInputs(prefix, captions, values, onInput, placeholders) {
    return ["nl", "en"].map((code) =>
      h(
        "div",
        { class: "field adm-label" },
        h("label", { for: `${prefix}-${code}` }, captions[code]),
        h("input", {
          type: "text",
          id: `${prefix}-${code}`,
          lang: code,
          value: values[code] || "",
          placeholder: placeholders ? placeholders[code] : null,
          oninput: (event) => onInput(code, event.target.value),
        }),
      ),
    );
  }

  function dropTarget(onDrop) {
    return {
      ondragover: (event) => {
        event.preventDefault();
        event.currentTarget.classList.add("adm-drop");
      },
      ondragleave: (event) => event.currentTarget.classList.remove("adm-drop"),
      ondrop: (event) => {
        event.preventDefault();
        event.stopPropagation();
        event.currentTarget.classList.remove("adm-drop");
        if (dragging) onDrop(dragging);
        dragging = null;
      },
    };
  }

  function handle(what) {
    return h(
      "span",
      {
        class: "adm-handle",
        draggable: "true",
        "aria-hidden": "true",
        title: t("adm_drag_hint"),
        ondragstart: (event) => {
          event.stopPropagation();
          dragging = what;
          event.dataTransfer.effectAllowed = "move";
          event.dataTransfer.setData("text/plain", JSON.stringify(what));
        },
      },
      "⠿",
    );
  }

  function dropTab(from, to) {
    if (from === to) return;
    const name = tabs[from].name;
    moveTo(tabs, from, to);
    flash(t("adm_moved", { name, n: to + 1 }));
    redraw();
  }

  /** While a tab's name is typed, every text that names the tab follows it. */
  function renameTab(node, i, name) {
    const prefix = `adm-tab-${i}`;
    const text = (selector, value) => {
      const found = node.querySelector(selector);
      if (found) found.textContent = value;
    };
    text(".adm-tab-title", name);
    text(`label[for="${prefix}-nl"]`, t("adm_tab_label_nl", { name }));
    text(`label[for="${prefix}-en"]`, t("adm_tab_label_en", { name }));
    text(`label[for="adm-add-select-${i}"]`, t("adm_add_field", { name }));
    text(".adm-remove-tab", t("adm_remove_tab", { name }));
    node.querySelector(`#${prefix}-up`).setAttribute("aria-label", t("adm_move_up", { name }));
    node.querySelector(`#${prefix}-down`).setAttribute("aria-label", t("adm_move_down", { name }));
  }

  function drawTab(tab, i) {
    const prefix = `adm-tab-${i}`;
    const title = tab.name || t("adm_tab");
    return h(
      "li",
      {
        class: "adm-tab panel",
        "data-tab": tab.name,
        ...dropTarget((what) => {
          if (what.field === undefined) {
            dropTab(what.tab, i);
            return;
          }
          // A field dropped on a tab (not on a field) goes to the end of that tab.
          const [name] = tabs[what.tab].fields.splice(what.field, 1);
          tab.fields.push(name);
          redraw();
        }),
      },
      h(
        "fieldset",
        {},
        h("legend", {}, handle({ tab: i }), " ", t("adm_tab"), " ", h("strong", { class: "adm-tab-title" }, title)),
        h(
          "div",
          { class: "row" },
          h(
            "div",
            { class: "field" },
            h("label", { for: `${prefix}-name` }, t("adm_tab_name")),
            h("input", {
              type: "text",
              id: `${prefix}-name`,
              value: tab.name,
              required: true,
              oninput: (event) => {
                tab.name = event.target.value;
                renameTab(event.target.closest(".adm-tab"), i, tab.name || t("adm_tab"));
              },
            }),
          ),
          labelInputs(
            prefix,
            { nl: t("adm_tab_label_nl", { name: title }), en: t("adm_tab_label_en", { name: title }) },
            tab,
            (code, value) => {
              tab[code] = value;
            },
          ),
          h(
            "div",
            { class: "adm-buttons" },
            moveButtons(prefix, title, i, tabs.length, (to, dir, twin) => {
              moveTo(tabs, i, to);
              flash(t("adm_moved", { name: title, n: to + 1 }));
              redraw(`adm-tab-${to}-${dir}`, `adm-tab-${to}-${twin}`);
            }),
            h(
              "button",
              {
                type: "button",
                class: "adm-danger",
                disabled: tabs.length === 1,
                onclick: () => {
                  tabs.splice(i, 1);
                  redraw("adm-add-tab");
                },
              },
              h("span", { class: "adm-remove-tab" }, t("adm_remove_tab", { name: title })),
            ),
          ),
        ),
        tab.fields.length ? null : h("p", { class: "notice" }, t("adm_tab_empty", { name: title })),
        h("ol", { class: "adm-fields" }, tab.fields.map((name, j) => drawField(tab, i, name, j))),
        addField(tab, i),
      ),
    );
  }

  function drawField(tab, i, name, j) {
    const prefix = `adm-field-${i}-${j}`;
    const shown = defaultLabel(name);
    const own = overrides[name] || {};
    const item = known.get(name);
    return h(
      "li",
      {
        class: "adm-field",
        "data-field": name,
        ...dropTarget((what) => {
          if (what.field === undefined) {
            dropTab(what.tab, i); // a tab dropped on one of another tab's fields
            return;
          }
          const [moved] = tabs[what.tab].fields.splice(what.field, 1);
          const at = what.tab === i && what.field < j ? j - 1 : j;
          tab.fields.splice(at, 0, moved);
          redraw();
        }),
      },
      handle({ tab: i, field: j }),
      h("span", { class: "adm-field-name" }, shown, " ", h("span", { class: "badge" }, item ? t(KINDS.find(([k]) => k === item.kind)[1]) : name)),
      labelInputs(
        prefix,
        { nl: t("adm_field_label_nl", { name: shown }), en: t("adm_field_label_en", { name: shown }) },
        own,
        (code, value) => {
          overrides[name] = { ...(overrides[name] || {}), [code]: value };
        },
        item ? item.labels : null,
      ),
      h(
        "div",
        { class: "adm-buttons" },
        moveButtons(prefix, shown, j, tab.fields.length, (to, dir, twin) => {
          moveTo(tab.fields, j, to);
          flash(t("adm_moved", { name: shown, n: to + 1 }));
          redraw(`adm-field-${i}-${to}-${dir}`, `adm-field-${i}-${to}-${twin}`);
        }),
        h(
          "button",
          {
            type: "button",
            onclick: () => {
              tab.fields.splice(j, 1);
              redraw(`adm-add-${i}`);
            },
          },
          t("adm_hide", { name: shown }),
        ),
      ),
    );
  }

  function placed() {
    return new Set(tabs.flatMap((tab) => tab.fields));
  }

  function addField(tab, i) {
    const on = placed();
    const selectId = `adm-add-select-${i}`;
    const select = h(
      "select",
      { id: selectId },
      KINDS.map(([kind, key]) =>
        h(
          "optgroup",
          { label: t(key) },
          catalogue.items
            .filter((item) => item.kind === kind && !on.has(item.name))
            .map((item) => h("option", { value: item.name }, inLanguage(item.labels, item.name))),
        ),
      ),
    );
    return h(
      "div",
      { class: "row adm-add" },
      h("div", { class: "field" }, h("label", { for: selectId }, t("adm_add_field", { name: tab.name || t("adm_tab") })), select),
      h(
        "button",
        {
          type: "button",
          id: `adm-add-${i}`,
          onclick: () => {
            if (!select.value) return;
            tab.fields.push(select.value);
            redraw(`adm-add-${i}`);
          },
        },
        t("adm_add"),
      ),
    );
  }

  function drawHidden() {
    const on = placed();
    const off = catalogue.items.filter((item) => !on.has(item.name));
    mount(
      hidden,
      h("h2", { id: "adm-hidden-title" }, t("adm_hidden")),
      h("p", { class: "muted" }, off.map((item) => inLanguage(item.labels, item.name)).join(", ") || "—"),
    );
  }

  /** The form as the API takes it: labels only where given, the rest filled from defaults. */
  function formBody() {
    const shown = placed();
    const fieldLabels = {};
    for (const [name, own] of Object.entries(overrides)) {
      const nl = (own.nl || "").trim();
      const en = (own.en || "").trim();
      if (!shown.has(name) || (!nl && !en)) continue;
      const defaults = known.get(name)?.labels || { nl: name, en: name };
      fieldLabels[name] = { nl: nl || defaults.nl, en: en || defaults.en };
    }
    return {
      tabs: tabs.map((tab) => {
        const nl = (tab.nl || "").trim();
        const en = (tab.en || "").trim();
        return {
          name: tab.name.trim(),
          fields: tab.fields,
          buttons: tab.buttons || [],
          labels: nl || en ? { nl: nl || tab.name.trim(), en: en || tab.name.trim() } : null,
        };
      }),
      field_labels: fieldLabels,
    };
  }

  async function save() {
    problem.textContent = "";
    const empty = tabs.find((tab) => !tab.fields.length);
    if (empty) {
      problem.textContent = t("adm_tab_empty", { name: empty.name || t("adm_tab") });
      return;
    }
    try {
      const answer = await request(
        "PUT",
        `/admin/views/${viewId}`,
        { name: view.name, base_filter: view.base_filter, form: formBody() },
        { ifMatch: etag },
      );
      etag = answer.etag;
      await reloadViews();
      flash(t("adm_form_saved"));
    } catch (error) {
      problem.textContent = error instanceof ApiError && error.status === 412 ? t("adm_form_stale") : messageOf(error);
    }
  }

  mount(
    main,
    adminHeader(t("adm_form_of", { name: view.name })),
    h("p", { class: "muted", id: "adm-drag-hint" }, t("adm_drag_hint")),
    problem,
    list,
    h(
      "p",
      { class: "row" },
      h(
        "button",
        {
          type: "button",
          id: "adm-add-tab",
          onclick: () => {
            tabs.push({ name: t("adm_new_tab"), fields: [], buttons: [], nl: "", en: "" });
            redraw(`adm-tab-${tabs.length - 1}-name`);
          },
        },
        t("adm_add_tab"),
      ),
      h("button", { type: "button", class: "primary", id: "adm-save-form", onclick: save }, t("save")),
    ),
    hidden,
  );
  redraw();
}
