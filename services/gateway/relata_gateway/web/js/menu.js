// The left menu: Relations, with the user's views and under each view its lists
// ("All relations" first), the filter builder and the selections; a view folds open and shut.

import { h, mount } from "./dom.js";
import { t } from "./i18n.js";
import { current } from "./router.js";
import { session } from "./state.js";
import { isAdministrator } from "./screens/admin/common.js";
import { automationMenu } from "./screens/automation/common.js";
import { recentLists } from "./screens/lists/table.js";
import "./screens/lists/words.js";
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
      session.views.map((view) => {
        const lists = menuLists(view, here);
        const hidden = view.lists.length - lists.length;
        return h(
          "li",
          {},
          h(
            "details",
            { class: "menu-view", open: viewOpen(view, here), ontoggle: (e) => keepOpen(view, e.target.open) },
            h("summary", { class: "view-name" }, view.name),
            h(
              "ul",
              {},
              lists.map((list) =>
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
              h("li", {}, link(`/views/${view.view_id}/lists`, hidden > 0 ? t("lst_all_lists_more", { count: hidden }) : t("lst_all_lists"))),
              h("li", {}, link(`/views/${view.view_id}/filter`, `+ ${t("new_filter")}`)),
              h("li", {}, link(`/views/${view.view_id}/selections`, t("selections"))),
            ),
          ),
        );
      }),
    ),
    isAdministrator()
      ? h(
          "ul",
          { class: "menu-admin" },
          h("li", {}, h("a", { href: "#/admin/views", "aria-current": here.startsWith("/admin") ? "page" : null }, t("adm_menu"))),
        )
      : null,
    automationMenu(link),
  );
}

// A view with many lists shows "All relations", the lists opened lately and the open one;
// the rest are one click away on the view's lists screen.
const MENU_LISTS_MAX = 8;
const OPEN_KEY = "relata.menu-closed.";

function menuLists(view, here) {
  if (view.lists.length <= MENU_LISTS_MAX) return view.lists;
  const recent = recentLists(view.view_id);
  return view.lists.filter(
    (list, i) => i === 0 || recent.includes(list.list_id) || here.startsWith(`/views/${view.view_id}/lists/${list.list_id}`),
  );
}

function viewOpen(view, here) {
  return here.startsWith(`/views/${view.view_id}/`) || localStorage.getItem(OPEN_KEY + view.view_id) !== "1";
}

function keepOpen(view, open) {
  if (open) localStorage.removeItem(OPEN_KEY + view.view_id);
  else localStorage.setItem(OPEN_KEY + view.view_id, "1");
}

export function hideMenu() {
  document.getElementById("menu").hidden = true;
}
