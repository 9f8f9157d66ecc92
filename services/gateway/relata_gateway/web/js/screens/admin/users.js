// Users (administration): create a user with a role, change the role, deactivate or
// reactivate, give a new password; and per user their API keys: create one with scopes (its
// secret is shown once), revoke one.

import { moment } from "../../format.js";
import { get, post, request } from "../../api.js";
import { flash, h, mount, nextId } from "../../dom.js";
import { language, messageOf, t } from "../../i18n.js";
import { SCOPES, adminHeader, inLanguage, problemBox, textInput } from "./common.js";

export async function renderAdminUsers(main) {
  const [users, roles] = await Promise.all([get("/admin/users"), get("/admin/roles")]);
  const problem = problemBox();
  const redraw = () => renderAdminUsers(main);
  const act = async (call, message) => {
    try {
      await call();
      flash(message);
      await redraw();
    } catch (error) {
      problem.textContent = messageOf(error);
    }
  };
  const roleOptions = (selected) =>
    roles.map((role) => h("option", { value: role.name, selected: role.name === selected }, inLanguage(role.labels, role.name)));

  const rows = users.map((user) =>
    h(
      "tr",
      { "data-user": user.username },
      h("th", { scope: "row" }, user.username),
      h("td", {}, user.display_name),
      h(
        "td",
        {},
        h(
          "select",
          {
            "aria-label": t("adm_role_of", { name: user.username }),
            onchange: (event) =>
              act(() => request("PATCH", `/admin/users/${user.user_id}`, { role: event.target.value }), t("adm_user_changed")),
          },
          roleOptions(user.role),
        ),
      ),
      h("td", {}, user.active ? t("adm_active") : t("adm_inactive")),
      h(
        "td",
        { class: "adm-buttons" },
        h(
          "button",
          {
            type: "button",
            "aria-label": `${user.active ? t("adm_deactivate") : t("adm_reactivate")}: ${user.username}`,
            onclick: () =>
              act(() => request("PATCH", `/admin/users/${user.user_id}`, { active: !user.active }), t("adm_user_changed")),
          },
          user.active ? t("adm_deactivate") : t("adm_reactivate"),
        ),
        h(
          "button",
          {
            type: "button",
            "aria-label": `${t("adm_reset_password")}: ${user.username}`,
            onclick: () => {
              const password = prompt(t("adm_new_password_for", { name: user.username }));
              if (password) {
                act(() => request("PUT", `/admin/users/${user.user_id}/password`, { password }), t("adm_password_set"));
              }
            },
          },
          t("adm_reset_password"),
        ),
        h(
          "a",
          { href: `#/admin/users/${user.user_id}/api-keys`, "aria-label": `${t("adm_api_keys")}: ${user.username}` },
          t("adm_api_keys"),
        ),
      ),
    ),
  );

  const ids = { username: nextId("adm"), name: nextId("adm"), password: nextId("adm"), role: nextId("adm") };
  const create = h(
    "form",
    {
      class: "panel",
      id: "adm-user-form",
      "aria-labelledby": "adm-new-user",
      onsubmit: (event) => {
        event.preventDefault();
        const value = (id) => document.getElementById(id).value;
        act(
          () =>
            post("/admin/users", {
              username: value(ids.username).trim(),
              display_name: value(ids.name).trim(),
              password: value(ids.password),
              role: value(ids.role),
            }),
          t("adm_user_created"),
        );
      },
    },
    h("h2", { id: "adm-new-user" }, t("adm_new_user")),
    h(
      "div",
      { class: "row" },
      textInput(ids.username, t("adm_username"), "", { required: true, autocomplete: "off" }),
      textInput(ids.name, t("adm_display_name"), "", { required: true }),
      h(
        "div",
        { class: "field" },
        h("label", { for: ids.password }, t("adm_password")),
        h("input", { id: ids.password, type: "password", required: true, minlength: "10", autocomplete: "new-password" }),
      ),
      h("div", { class: "field" }, h("label", { for: ids.role }, t("adm_role")), h("select", { id: ids.role }, roleOptions("staff"))),
    ),
    h("p", {}, h("button", { type: "submit", class: "primary" }, t("adm_create"))),
  );

  mount(
    main,
    adminHeader(t("adm_users")),
    problem,
    h(
      "table",
      { id: "adm-users" },
      h("caption", { class: "visually-hidden" }, t("adm_users")),
      h(
        "thead",
        {},
        h(
          "tr",
          {},
          [t("adm_username"), t("adm_display_name"), t("adm_role"), t("adm_status"), t("adm_actions")].map((text) =>
            h("th", { scope: "col" }, text),
          ),
        ),
      ),
      h("tbody", {}, rows),
    ),
    create,
  );
}

export async function renderApiKeys(main, { user: userId }) {
  const [user, keys] = await Promise.all([get(`/admin/users/${userId}`), get(`/admin/users/${userId}/api-keys`)]);
  const problem = problemBox();
  const secret = h("div", { id: "adm-secret", "aria-live": "polite" });
  const redraw = async () => {
    const fresh = await get(`/admin/users/${userId}/api-keys`);
    mount(table, drawRows(fresh));
  };
  const when = (value) => moment(value);

  function drawRows(items) {
    if (!items.length) return h("tr", {}, h("td", { colspan: "6", class: "muted" }, t("adm_no_keys")));
    return items.map((key) =>
      h(
        "tr",
        { "data-key": key.name },
        h("th", { scope: "row" }, key.name),
        h("td", {}, h("code", {}, key.prefix)),
        h("td", {}, key.scopes.map((s) => t((SCOPES.find(([code]) => code === s) || [s, s])[1])).join(", ")),
        h("td", {}, when(key.created_at)),
        h("td", {}, key.revoked_at ? `${t("adm_revoked")} ${when(key.revoked_at)}` : t("adm_active")),
        h(
          "td",
          {},
          key.revoked_at
            ? null
            : h(
                "button",
                {
                  type: "button",
                  class: "adm-danger",
                  onclick: async () => {
                    if (!confirm(t("adm_confirm_revoke", { name: key.name }))) return;
                    try {
                      await request("DELETE", `/admin/users/${userId}/api-keys/${key.api_key_id}`);
                      flash(t("adm_key_revoked"));
                      mount(secret);
                      await redraw();
                    } catch (error) {
                      problem.textContent = messageOf(error);
                    }
                  },
                },
                t("adm_revoke_key", { name: key.name }),
              ),
        ),
      ),
    );
  }

  const table = h("tbody", {}, drawRows(keys));
  const nameId = nextId("adm");
  const scopeBoxes = SCOPES.map(([code, key]) => {
    const id = nextId("adm");
    return h(
      "span",
      { class: "adm-check" },
      h("input", { type: "checkbox", id, value: code, checked: code === "read" || code === "write" }),
      h("label", { for: id }, t(key)),
    );
  });
  const create = h(
    "form",
    {
      class: "panel",
      id: "adm-key-form",
      "aria-labelledby": "adm-new-key",
      onsubmit: async (event) => {
        event.preventDefault();
        problem.textContent = "";
        const scopes = scopeBoxes.map((box) => box.querySelector("input")).filter((box) => box.checked).map((box) => box.value);
        try {
          const made = await post(`/admin/users/${userId}/api-keys`, {
            name: document.getElementById(nameId).value.trim(),
            scopes,
          });
          mount(
            secret,
            h(
              "div",
              { class: "notice" },
              h("p", {}, t("adm_key_created")),
              h("label", { for: "adm-secret-value" }, t("adm_the_key")),
              h("input", { id: "adm-secret-value", type: "text", readonly: true, value: made.key, class: "adm-secret" }),
            ),
          );
          document.getElementById(nameId).value = "";
          await redraw();
          document.getElementById("adm-secret-value").select();
        } catch (error) {
          problem.textContent = messageOf(error);
        }
      },
    },
    h("h2", { id: "adm-new-key" }, t("adm_new_key")),
    h(
      "div",
      { class: "row" },
      textInput(nameId, t("adm_key_name"), "", { required: true }),
      h("fieldset", { class: "adm-scopes" }, h("legend", {}, t("adm_scopes")), scopeBoxes),
    ),
    h("p", {}, h("button", { type: "submit", class: "primary" }, t("adm_create"))),
  );

  mount(
    main,
    adminHeader(t("adm_keys_of", { name: `${user.display_name} (${user.username})` })),
    problem,
    secret,
    h(
      "table",
      { id: "adm-keys" },
      h("caption", { class: "visually-hidden" }, t("adm_api_keys")),
      h(
        "thead",
        {},
        h(
          "tr",
          {},
          [t("adm_key_name"), t("adm_prefix"), t("adm_scopes"), t("adm_created"), t("adm_status"), t("adm_actions")].map((text) =>
            h("th", { scope: "col" }, text),
          ),
        ),
      ),
      table,
    ),
    create,
  );
}
