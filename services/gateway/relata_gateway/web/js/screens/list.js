// A relation list: a paged table of its members, or its count and a prompt to filter when it
// is too large to browse. It reloads by itself when a relation enters or leaves it.

import { get, post, query } from "../api.js";
import { debounce, field, flash, h, mount } from "../dom.js";
import { messageOf, t } from "../i18n.js";
import { listen } from "../live.js";
import { go } from "../router.js";
import { setCurrentView, viewById } from "../state.js";

const PAGE = 25;

export async function renderList(main, { view: viewId, list: listId }) {
  const view = viewById(viewId);
  const list = view && view.lists.find((l) => l.list_id === listId);
  if (!list) throw Object.assign(new Error("not found"), { status: 404 });
  setCurrentView(viewId);
  const title = list.name === "All relations" ? t("all_relations") : list.name;
  const body = h("div", {}, h("p", { class: "muted" }, t("loading")));
  const cursors = [null]; // cursors[i] opens page i; Previous goes back one
  let page = 0;
  let shownIds = new Set();

  async function load(highlight = new Set()) {
    const answer = await get(
      `/views/${viewId}/lists/${listId}/members${query({ limit: PAGE, cursor: cursors[page] })}`,
    );
    shownIds = new Set(answer.relations.map((r) => r.relation_id));
    if (answer.too_large) {
      mount(
        body,
        h("p", { class: "count", id: "list-count" }, t("count_relations", { count: answer.count })),
        h("p", { class: "notice" }, t("too_large")),
        h("a", { class: "button primary", href: `#/views/${viewId}/filter` }, t("filter_this")),
      );
      return;
    }
    cursors[page + 1] = answer.next;
    const showNumber = answer.relations.some((r) => r.relation_number !== null);
    mount(
      body,
      h("p", { id: "list-count" }, t("count_relations", { count: answer.count })),
      h(
        "table",
        { id: "list-table" },
        h("caption", { class: "visually-hidden" }, title),
        h(
          "thead",
          {},
          h(
            "tr",
            {},
            h("th", { scope: "col" }, t("name")),
            showNumber ? h("th", { scope: "col" }, t("relation_number")) : null,
            h("th", { scope: "col" }, t("type")),
          ),
        ),
        h(
          "tbody",
          {},
          answer.relations.map((row) =>
            h(
              "tr",
              { class: highlight.has(row.relation_id) ? "flash" : null },
              h("td", {}, h("a", { href: `#/views/${viewId}/relations/${row.relation_id}` }, row.display_name)),
              showNumber ? h("td", {}, row.relation_number ?? "") : null,
              h("td", {}, t(row.relation_type)),
            ),
          ),
        ),
      ),
      h(
        "div",
        { class: "pager" },
        h("button", { type: "button", disabled: page === 0, onclick: () => ((page -= 1), load()) }, `← ${t("previous")}`),
        h("span", { class: "muted" }, t("page_n", { n: page + 1 })),
        h("button", { type: "button", disabled: !answer.next, onclick: () => ((page += 1), load()) }, `${t("next")} →`),
      ),
    );
  }

  // Freeze the list's members now as a selection (for a mailing), then open it.
  const selectionName = h("input", { id: "selection-name", required: true, value: `${title} ${new Date().toLocaleDateString()}` });
  const selectionForm = view.can_edit
    ? h(
        "form",
        {
          class: "row",
          onsubmit: async (event) => {
            event.preventDefault();
            try {
              const made = await post(`/views/${viewId}/selections`, { name: selectionName.value, list_id: listId });
              flash(t("selection_made", { count: made.member_count ?? 0 }));
              go(`/views/${viewId}/selections/${made.selection_id}`);
            } catch (error) {
              flash(messageOf(error));
            }
          },
        },
        field(t("selection_name"), selectionName),
        h("button", { type: "submit" }, t("make_selection")),
      )
    : null;

  mount(
    main,
    h("h1", {}, title, " ", h("span", { class: "badge" }, view.name)),
    body,
    selectionForm ? h("section", { class: "panel", "aria-labelledby": "sel-title" }, h("h2", { id: "sel-title" }, t("make_selection")), selectionForm) : null,
  );
  await load();

  // Someone entered or left this list, or a shown relation changed its name: reload the page.
  const changed = new Set();
  const reload = debounce(async () => {
    const highlight = new Set(changed);
    changed.clear();
    try {
      await load(highlight);
      flash(t("list_updated"));
    } catch {
      /* the next event or a reload tries again */
    }
  }, 400);
  return listen(viewId, (type, data) => {
    if ((type === "membership" && data.list_id === listId) || (type === "relation" && shownIds.has(data.relation_id))) {
      changed.add(data.relation_id);
      reload();
    }
  });
}
