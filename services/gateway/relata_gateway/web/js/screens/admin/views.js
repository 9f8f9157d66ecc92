// Views (administration): the list of views, a view's name and base filter, deleting it, and
// who may use it (grants to users and roles, read-only or with edit rights).

import { get, post, request } from "../../api.js";
import { flash, h, mount, nextId } from "../../dom.js";
import { messageOf, t } from "../../i18n.js";
import { go } from "../../router.js";
import { reloadViews } from "../../state.js";
import { adminHeader, problemBox, textInput } from "./common.js";

const PRESETS = {
  adm_preset_persons: { kind: "field", field: "relation_type", op: "equals", value: "person" },
  adm_preset_organisations: { kind: "field", field: "relation_type", op: "equals", value: "organisation" },
  adm_preset_everyone: { kind: "field", field: "relation_number", op: "not_empty" },
};
// A new view starts with one tab of name fields; the form editor takes it from there.
const STARTING_FORM = {
  tabs: [
    {
      name: "Algemeen",
      labels: { nl: "Algemeen", en: "General" },
      fields: ["relation_number", "first_name", "infix", "last_name", "organisation_name", "emails"],
    },
  ],
};

export async function renderAdminViews(main) {
  const views = await get("/admin/views");
  const problem = problemBox();
  const rows = views.map((view) =>
    h(
      "tr",
      {},
      h("th", { scope: "row" }, h("a", { href: `#/admin/views/${view.view_id}` }, view.name)),
      h("td", {}, t("adm_tabs_count", { count: view.form.tabs.length })),
      h("td", {}, t("adm_lists_count", { count: view.lists.length })),
      h(
        "td",
        {},
        h("a", { href: `#/admin/views/${view.view_id}/form`, "aria-label": `${t("adm_form")}: ${view.name}` }, t("adm_form")),
        " · ",
        h("a", { href: `#/admin/views/${view.view_id}`, "aria-label": `${t("adm_grants")}: ${view.name}` }, t("adm_grants")),
        " · ",
        h(
          "button",
          {
            type: "button",
            class: "link-button adm-danger",
            "aria-label": `${t("adm_delete")}: ${view.name}`,
            onclick: async () => {
              if (!confirm(t("adm_confirm_delete_view", { name: view.name }))) return;
              try {
                await request("DELETE", `/admin/views/${view.view_id}`);
                await reloadViews();
                flash(t("adm_view_deleted"));
                go("/admin/views");
              } catch (error) {
                problem.textContent = messageOf(error);
              }
            },
          },
          t("adm_delete"),
        ),
      ),
    ),
  );
  mount(
    main,
    adminHeader(t("adm_views")),
    problem,
    h(
      "table",
      { id: "adm-views" },
      h("caption", { class: "visually-hidden" }, t("adm_views")),
      h(
        "thead",
        {},
        h("tr", {}, [t("name"), t("adm_tabs"), t("adm_lists"), t("adm_actions")].map((text) => h("th", { scope: "col" }, text))),
      ),
      h("tbody", {}, rows),
    ),
    h("p", {}, h("a", { class: "button primary", href: "#/admin/views/new" }, t("adm_new_view"))),
  );
}

/** The name and base filter of a view; `view` null for a new one. */
function viewForm(view, onSave) {
  const problem = problemBox();
  const nameId = nextId("adm");
  const scopeId = nextId("adm");
  const helpId = nextId("adm");
  const presetId = nextId("adm");
  const scope = h("textarea", { id: scopeId, rows: "8", class: "adm-json", "aria-describedby": helpId });
  scope.value = JSON.stringify(view ? view.base_filter : PRESETS.adm_preset_persons, null, 2);
  const preset = h(
    "select",
    {
      id: presetId,
      onchange: (event) => {
        if (event.target.value) scope.value = JSON.stringify(PRESETS[event.target.value], null, 2);
      },
    },
    h("option", { value: "" }, "—"),
    Object.keys(PRESETS).map((key) => h("option", { value: key }, t(key))),
  );
  const name = textInput(nameId, t("adm_view_name"), view ? view.name : "", { required: true });
  return h(
    "form",
    {
      class: "panel",
      id: "adm-view-form",
      onsubmit: async (event) => {
        event.preventDefault();
        let filter;
        try {
          filter = JSON.parse(scope.value);
        } catch {
          problem.textContent = t("adm_scope_invalid");
          return;
        }
        try {
          await onSave(name.querySelector("input").value.trim(), filter);
        } catch (error) {
          problem.textContent = messageOf(error);
        }
      },
    },
    problem,
    name,
    h("div", { class: "field" }, h("label", { for: presetId }, t("adm_preset")), preset),
    h(
      "div",
      { class: "field" },
      h("label", { for: scopeId }, t("adm_scope")),
      h("p", { id: helpId, class: "muted" }, t("adm_scope_help")),
      scope,
    ),
    h("p", {}, h("button", { type: "submit", class: "primary" }, t("save"))),
  );
}

export async function renderNewView(main) {
  mount(
    main,
    adminHeader(t("adm_new_view")),
    viewForm(null, async (name, filter) => {
      const created = await post("/admin/views", { name, base_filter: filter, form: STARTING_FORM });
      await reloadViews();
      flash(t("adm_view_created"));
      go(`/admin/views/${created.view_id}/form`);
    }),
  );
}

export async function renderEditView(main, { view: viewId }) {
  const first = await request("GET", `/admin/views/${viewId}`);
  const view = first.data;
  const grants = h("section", { class: "panel", "aria-labelledby": "adm-grants-title" });
  mount(
    main,
    adminHeader(`${t("adm_edit_view")}: ${view.name}`),
    h("p", {}, h("a", { href: `#/admin/views/${viewId}/form` }, t("adm_form_of", { name: view.name }))),
    viewForm(view, async (name, filter) => {
      await request("PUT", `/admin/views/${viewId}`, { name, base_filter: filter, form: view.form }, { ifMatch: first.etag });
      await reloadViews();
      flash(t("saved"));
      go(`/admin/views/${viewId}`);
    }),
    grants,
  );
  await drawGrants(grants, view);
}

async function drawGrants(box, view) {
  const base = `/admin/views/${view.view_id}/grants`;
  const [granted, users, roles] = await Promise.all([get(base), get("/admin/users"), get("/admin/roles")]);
  const problem = problemBox();
  const redraw = () => drawGrants(box, view);
  const act = async (call) => {
    try {
      await call();
      await reloadViews();
      flash(t("saved"));
      await redraw();
    } catch (error) {
      problem.textContent = messageOf(error);
    }
  };
  const row = (who, path, canEdit) => {
    const id = nextId("adm");
    return h(
      "tr",
      {},
      h("th", { scope: "row" }, who),
      h(
        "td",
        {},
        h("input", {
          type: "checkbox",
          id,
          checked: canEdit,
          "aria-label": t("adm_edit_rights_of", { name: who }),
          onchange: (event) => act(() => request("PUT", path, { can_edit: event.target.checked })),
        }),
      ),
      h(
        "td",
        {},
        h(
          "button",
          { type: "button", "aria-label": t("adm_revoke_of", { name: who }), onclick: () => act(() => request("DELETE", path)) },
          t("adm_revoke"),
        ),
      ),
    );
  };
  const table = (caption, rows) =>
    h(
      "table",
      {},
      h("caption", {}, caption),
      h("thead", {}, h("tr", {}, [caption === t("adm_users_granted") ? t("adm_user") : t("adm_role"), t("adm_can_edit"), t("adm_actions")].map((text) => h("th", { scope: "col" }, text)))),
      h("tbody", {}, rows),
    );
  const whoId = nextId("adm");
  const editId = nextId("adm");
  const who = h(
    "select",
    { id: whoId },
    h("optgroup", { label: t("adm_users") }, users.filter((u) => u.active && u.role !== "admin").map((u) => h("option", { value: `user:${u.user_id}` }, `${u.display_name} (${u.username})`))),
    h("optgroup", { label: t("adm_roles") }, roles.filter((r) => r.name !== "admin").map((r) => h("option", { value: `role:${r.name}` }, r.name))),
  );
  const canEdit = h("input", { type: "checkbox", id: editId });
  mount(
    box,
    h("h2", { id: "adm-grants-title" }, t("adm_grants_of", { name: view.name })),
    problem,
    granted.users.length || granted.roles.length ? null : h("p", { class: "muted" }, t("adm_no_grants")),
    granted.users.length
      ? table(t("adm_users_granted"), granted.users.map((g) => row(g.username, `${base}/users/${g.user_id}`, g.can_edit)))
      : null,
    granted.roles.length
      ? table(t("adm_roles_granted"), granted.roles.map((g) => row(g.role, `${base}/roles/${g.role}`, g.can_edit)))
      : null,
    h(
      "form",
      {
        class: "row",
        id: "adm-grant-form",
        onsubmit: (event) => {
          event.preventDefault();
          const [kind, id] = who.value.split(/:(.*)/s);
          act(() => request("PUT", `${base}/${kind === "user" ? "users" : "roles"}/${id}`, { can_edit: canEdit.checked }));
        },
      },
      h("div", { class: "field" }, h("label", { for: whoId }, t("adm_user") + " / " + t("adm_role")), who),
      h("div", { class: "field" }, h("label", { for: editId }, t("adm_can_edit")), canEdit),
      h("button", { type: "submit" }, t("adm_grant")),
    ),
  );
}
