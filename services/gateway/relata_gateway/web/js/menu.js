// The left menu: Relations, with the user's views and under each view its lists
// ("All relations" first), the filter builder and the selections.

import { h, mount } from "./dom.js";
import { t } from "./i18n.js";
import { current } from "./router.js";
import { session } from "./state.js";
import { mayCreate } from "./screens/daily/create.js";

export function renderMenu() {
  const nav = document.getElementById("menu");
  nav.hidden = false;
  nav.setAttribute("aria-label", t("menu"));
  const here = current();
  const link = (path, text) =>
    h("a", { href: `#${path}`, "aria-current": here === path ? "page" : null }, text);
  mount(
    nav,
    h("ul", {}, h("li", {}, link("/", t("dashboard")))),
    h("h2", { id: "menu-relations" }, t("relations")),
    h(
      "ul",
      { "aria-labelledby": "menu-relations" },
      session.views.map((view) =>
        h(
          "li",
          {},
          h("span", { class: "view-name" }, view.name),
          h(
            "ul",
            {},
            view.lists.map((list) =>
              h(
                "li",
                {},
                link(
                  `/views/${view.view_id}/lists/${list.list_id}`,
                  list.name === "All relations" ? t("all_relations") : list.name,
                ),
              ),
            ),
            mayCreate(view) ? h("li", {}, link(`/views/${view.view_id}/new`, `+ ${t("day_new_relation")}`)) : null,
            h("li", {}, link(`/views/${view.view_id}/filter`, `+ ${t("new_filter")}`)),
            h("li", {}, link(`/views/${view.view_id}/selections`, t("selections"))),
          ),
        ),
      ),
    ),
  );
}

export function hideMenu() {
  document.getElementById("menu").hidden = true;
}
