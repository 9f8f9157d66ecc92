// Every list of a view on one screen (the menu shows only the lists opened lately once a view
// has many): found by name, with its member count, those opened lately first.

import { get } from "../../api.js";
import { field, h, mount } from "../../dom.js";
import { t } from "../../i18n.js";
import { setCurrentView, viewById } from "../../state.js";
import { recentLists } from "./table.js";
import "./words.js";

const COUNT_READERS = 4;

export async function renderListsOverview(main, { view: viewId }) {
  const view = viewById(viewId);
  if (!view) throw Object.assign(new Error("not found"), { status: 404 });
  setCurrentView(viewId);
  const recent = recentLists(viewId);
  const rank = (list) => (list.name === "All relations" ? -1 : recent.includes(list.list_id) ? recent.indexOf(list.list_id) : recent.length);
  const lists = [...view.lists].sort((a, b) => rank(a) - rank(b) || a.name.localeCompare(b.name));
  const counts = new Map();
  const tbody = h("tbody", {});
  const search = h("input", { type: "search", id: "lst-overview-search", oninput: () => draw() });
  const nameOf = (list) => (list.name === "All relations" ? t("all_relations") : list.name);

  function draw() {
    const wanted = search.value.trim().toLowerCase();
    mount(
      tbody,
      lists
        .filter((list) => !wanted || nameOf(list).toLowerCase().includes(wanted))
        .map((list) =>
          h(
            "tr",
            {},
            h("td", {}, h("a", { href: `#/views/${viewId}/lists/${list.list_id}` }, nameOf(list))),
            h("td", {}, counts.has(list.list_id) ? String(counts.get(list.list_id)) : "…"),
            h("td", {}, recent.includes(list.list_id) ? t("lst_opened_lately") : ""),
          ),
        ),
    );
  }

  mount(
    main,
    h("h1", {}, t("lst_overview_title"), " ", h("span", { class: "badge" }, view.name)),
    h(
      "div",
      { class: "row" },
      field(t("lst_find_list"), search),
      view.can_edit ? h("a", { class: "button", href: `#/views/${viewId}/filter` }, `+ ${t("new_filter")}`) : null,
    ),
    h(
      "table",
      { id: "lst-overview" },
      h("caption", { class: "visually-hidden" }, t("lst_overview_title")),
      h("thead", {}, h("tr", {}, [t("name"), t("members"), t("lst_lately")].map((c) => h("th", { scope: "col" }, c)))),
      tbody,
    ),
  );
  draw();
  // Member counts arrive one by one: the table is usable before they are all in.
  let at = 0;
  async function reader() {
    while (at < lists.length) {
      const list = lists[at++];
      try {
        counts.set(list.list_id, (await get(`/views/${viewId}/lists/${list.list_id}`)).member_count);
      } catch {
        counts.set(list.list_id, "—");
      }
    }
  }
  Promise.all(Array.from({ length: COUNT_READERS }, reader)).then(() => main.isConnected && draw());
  return null;
}
