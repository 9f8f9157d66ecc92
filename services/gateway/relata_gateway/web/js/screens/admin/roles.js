// Roles (administration): a role is a named set of rights, with its name in Dutch and
// English. The admin role always keeps every right; built-in roles cannot be deleted.

import { get, request } from "../../api.js";
import { flash, h, mount, nextId } from "../../dom.js";
import { messageOf, t } from "../../i18n.js";
import { adminHeader, inLanguage, problemBox, textInput } from "./common.js";

export async function renderAdminRoles(main) {
  const [rights, roles] = await Promise.all([get("/admin/rights"), get("/admin/roles")]);
  const problem = problemBox();
  const redraw = () => renderAdminRoles(main);
  const save = async (name, body) => {
    problem.textContent = "";
    try {
      await request("PUT", `/admin/roles/${encodeURIComponent(name)}`, body);
      flash(t("adm_role_saved"));
      await redraw();
    } catch (error) {
      problem.textContent = messageOf(error);
    }
  };

  /** The rights as checkboxes; each names its right and the role it is for. */
  function rightBoxes(roleName, held, locked) {
    return rights.map((right) => {
      const id = nextId("adm");
      const label = inLanguage(right.labels, right.right);
      return h(
        "span",
        { class: "adm-check" },
        h("input", {
          type: "checkbox",
          id,
          value: right.right,
          checked: held.includes(right.right),
          disabled: locked,
          "aria-label": roleName ? t("adm_right_of", { right: label, role: roleName }) : null,
        }),
        h("label", { for: id }, label),
      );
    });
  }

  const checked = (box) => [...box.querySelectorAll("input[type=checkbox]:checked")].map((input) => input.value);

  function roleForm(role) {
    const locked = role.name === "admin";
    const prefix = nextId("adm-role");
    const boxes = h("fieldset", { class: "adm-rights" }, h("legend", {}, t("adm_rights")), rightBoxes(role.name, role.rights, locked));
    const shown = inLanguage(role.labels, role.name);
    return h(
      "form",
      {
        class: "panel",
        "data-role": role.name,
        "aria-labelledby": `${prefix}-title`,
        onsubmit: (event) => {
          event.preventDefault();
          save(role.name, {
            labels: {
              nl: document.getElementById(`${prefix}-nl`).value.trim(),
              en: document.getElementById(`${prefix}-en`).value.trim(),
            },
            rights: locked ? role.rights : checked(boxes),
          });
        },
      },
      h(
        "h2",
        { id: `${prefix}-title` },
        shown,
        " ",
        h("code", {}, role.name),
        role.built_in ? h("span", { class: "badge" }, t("adm_built_in")) : null,
        " ",
        h("span", { class: "muted" }, t("adm_users_with", { count: role.users })),
      ),
      h(
        "div",
        { class: "row" },
        textInput(`${prefix}-nl`, `${t("adm_label_nl")}: ${role.name}`, role.labels.nl, { required: true, lang: "nl" }),
        textInput(`${prefix}-en`, `${t("adm_label_en")}: ${role.name}`, role.labels.en, { required: true, lang: "en" }),
      ),
      locked ? h("p", { class: "muted" }, t("adm_admin_all")) : null,
      boxes,
      h(
        "p",
        { class: "adm-buttons" },
        h("button", { type: "submit", class: "primary", "aria-label": `${t("save")}: ${role.name}` }, t("save")),
        role.built_in || role.users
          ? null
          : h(
              "button",
              {
                type: "button",
                class: "adm-danger",
                onclick: async () => {
                  try {
                    await request("DELETE", `/admin/roles/${encodeURIComponent(role.name)}`);
                    flash(t("adm_role_deleted"));
                    await redraw();
                  } catch (error) {
                    problem.textContent = messageOf(error);
                  }
                },
              },
              t("adm_delete_role", { name: role.name }),
            ),
      ),
    );
  }

  const ids = { name: nextId("adm"), nl: nextId("adm"), en: nextId("adm") };
  const newBoxes = h("fieldset", { class: "adm-rights" }, h("legend", {}, t("adm_rights")), rightBoxes(null, [], false));
  const create = h(
    "form",
    {
      class: "panel",
      id: "adm-role-form",
      "aria-labelledby": "adm-new-role",
      onsubmit: (event) => {
        event.preventDefault();
        const value = (id) => document.getElementById(id).value.trim();
        // Saving is a PUT by name: a taken name would quietly change that role instead.
        if (roles.some((role) => role.name === value(ids.name))) {
          problem.textContent = t("adm_role_taken", { name: value(ids.name) });
          return;
        }
        save(value(ids.name), { labels: { nl: value(ids.nl), en: value(ids.en) }, rights: checked(newBoxes) });
      },
    },
    h("h2", { id: "adm-new-role" }, t("adm_new_role")),
    h(
      "div",
      { class: "row" },
      textInput(ids.name, t("adm_role_name"), "", { required: true, pattern: "[a-z0-9_\\-]+" }),
      textInput(ids.nl, t("adm_label_nl"), "", { required: true, lang: "nl" }),
      textInput(ids.en, t("adm_label_en"), "", { required: true, lang: "en" }),
    ),
    newBoxes,
    h("p", {}, h("button", { type: "submit", class: "primary" }, t("adm_create"))),
  );

  mount(main, adminHeader(t("adm_roles")), problem, roles.map(roleForm), create);
}
