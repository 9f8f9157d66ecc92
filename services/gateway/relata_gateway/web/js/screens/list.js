// A relation list: a table of its members with the columns the user chose for it, sorted by
// any column, searched within, paged, with rows to tick and act on (a bulk edit, a selection);
// or its count and a prompt to filter when it is too large to browse. Beside the table: why a
// relation is in the list, who was in it on a date, and (for a saved list) renaming, changing
// the filter, copying or moving it and deleting it. It reloads by itself when a relation
// enters or leaves it.

import { get, post, query, request } from "../api.js";
import { debounce, field, flash, h, mount } from "../dom.js";
import { day, today } from "../format.js";
import { messageOf, t } from "../i18n.js";
import { listen } from "../live.js";
import { go } from "../router.js";
import { session, setCurrentView, viewById } from "../state.js";
import { bulkPanel } from "./lists/bulk.js";
import { manageSection, membersOnDate, showWhy } from "./lists/manage.js";
import {
  cardValues,
  cellText,
  chooseColumns,
  chosenColumns,
  columnChoices,
  labelOf,
  rememberList,
} from "./lists/table.js";
import "./lists/words.js";

const PAGE = 25;
const FETCH = 200; // the API's largest page
const LOADED_MAX = 1000; // a longer list is paged by the server, unsorted and unsearched here
const SORT_CARDS_MAX = 300; // sorting by a chosen column reads every card: only for short lists
const CARD_READERS = 6;

export async function renderList(main, { view: viewId, list: listId }) {
  const view = viewById(viewId);
  const list = view && view.lists.find((l) => l.list_id === listId);
  if (!list) throw Object.assign(new Error("not found"), { status: 404 });
  setCurrentView(viewId);
  rememberList(viewId, listId);
  const title = list.name === "All relations" ? t("all_relations") : list.name;
  const [catalogue, detail] = await Promise.all([get(`/views/${viewId}/fields`), request("GET", `/views/${viewId}/lists/${listId}`)]);
  const specs = new Map(catalogue.fields.map((f) => [f.name, f]));
  const rights = new Set((session.me && session.me.rights) || []);

  const state = {
    rows: [], // every member loaded (or one server page of a long list)
    count: 0,
    complete: true, // all members are loaded: sort, search and paging happen here
    cursors: [null],
    page: 0,
    search: "",
    sort: { key: "display_name", dir: 1 },
    columns: chosenColumns(view, listId),
    picked: new Map(), // relation_id → display_name, kept across pages
  };
  const values = new Map(); // relation_id → the card's values (read when a column needs them)
  const body = h("div", { id: "list-body" }, h("p", { class: "muted" }, t("loading")));
  const toolbar = h("div", { class: "row lst-toolbar" });
  const actions = h("div", { id: "lst-actions", class: "lst-actions", "aria-live": "polite" });
  const bulk = h("div", {});
  let highlight = new Set();

  async function fetchAll() {
    const first = await get(`/views/${viewId}/lists/${listId}/members${query({ limit: FETCH })}`);
    state.count = first.count;
    if (first.too_large) return first;
    let rows = first.relations;
    let next = first.next;
    while (next && rows.length < LOADED_MAX) {
      const more = await get(`/views/${viewId}/lists/${listId}/members${query({ limit: FETCH, cursor: next })}`);
      rows = rows.concat(more.relations);
      next = more.next;
    }
    state.complete = !next;
    if (!state.complete) {
      // Too long to hold here: page through the server's pages (by name) instead.
      const page = await get(`/views/${viewId}/lists/${listId}/members${query({ limit: PAGE, cursor: state.cursors[state.page] })}`);
      state.cursors[state.page + 1] = page.next;
      state.rows = page.relations;
      return page;
    }
    state.rows = rows;
    return first;
  }

  async function readCards(ids) {
    const missing = ids.filter((id) => !values.has(id));
    let at = 0;
    async function reader() {
      while (at < missing.length) {
        const id = missing[at++];
        try {
          values.set(id, cardValues(await get(`/views/${viewId}/relations/${id}`)));
        } catch {
          values.set(id, {}); // left the view meanwhile: an empty row, not a broken table
        }
      }
    }
    await Promise.all(Array.from({ length: CARD_READERS }, reader));
  }

  const cell = (row, name) => {
    if (name === "display_name") return row.display_name;
    if (name === "relation_number") return row.relation_number ?? "";
    if (name === "relation_type") return t(row.relation_type);
    return cellText(name, (values.get(row.relation_id) || {})[name], specs.get(name));
  };

  function shownRows() {
    if (!state.complete) return state.rows;
    const wanted = state.search.trim().toLowerCase();
    const names = ["display_name", "relation_number", ...state.columns];
    const found = wanted ? state.rows.filter((row) => names.some((n) => String(cell(row, n)).toLowerCase().includes(wanted))) : state.rows;
    const { key, dir } = state.sort;
    const collator = new Intl.Collator(undefined, { numeric: true, sensitivity: "base" });
    return [...found].sort((a, b) => dir * collator.compare(String(cell(a, key)), String(cell(b, key))));
  }

  async function draw() {
    const all = shownRows();
    const pages = state.complete ? Math.max(1, Math.ceil(all.length / PAGE)) : null;
    if (state.complete && state.page >= pages) state.page = pages - 1;
    const rows = state.complete ? all.slice(state.page * PAGE, (state.page + 1) * PAGE) : all;
    if (state.columns.length) await readCards(rows.map((r) => r.relation_id));
    const showNumber = state.rows.some((r) => r.relation_number !== null && r.relation_number !== undefined);
    const columns = [
      { key: "display_name", label: t("name") },
      showNumber ? { key: "relation_number", label: t("relation_number") } : null,
      { key: "relation_type", label: t("type") },
      ...state.columns.map((name) => ({ key: name, label: labelOf(view, name) })),
    ].filter(Boolean);
    const allPicked = rows.length > 0 && rows.every((r) => state.picked.has(r.relation_id));
    mount(
      body,
      h("p", { id: "list-count" }, t("count_relations", { count: state.count })),
      state.search ? h("p", { id: "lst-found", class: "muted" }, t("lst_found", { count: all.length })) : null,
      state.complete ? null : h("p", { class: "notice" }, t("lst_long_list", { max: LOADED_MAX })),
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
            h(
              "th",
              { scope: "col", class: "lst-tick" },
              h("input", {
                type: "checkbox",
                id: "lst-pick-page",
                "aria-label": t("lst_pick_page"),
                checked: allPicked,
                onchange: (e) => {
                  for (const r of rows) e.target.checked ? state.picked.set(r.relation_id, r.display_name) : state.picked.delete(r.relation_id);
                  draw();
                },
              }),
            ),
            columns.map((c) => sortHeader(c)),
            h("th", { scope: "col" }, h("span", { class: "visually-hidden" }, t("lst_why_column"))),
          ),
        ),
        h(
          "tbody",
          {},
          rows.map((row) =>
            h(
              "tr",
              { class: highlight.has(row.relation_id) ? "flash" : null },
              h(
                "td",
                { class: "lst-tick" },
                h("input", {
                  type: "checkbox",
                  class: "lst-pick",
                  "aria-label": t("lst_pick_one", { name: row.display_name }),
                  checked: state.picked.has(row.relation_id),
                  onchange: (e) => {
                    e.target.checked ? state.picked.set(row.relation_id, row.display_name) : state.picked.delete(row.relation_id);
                    drawActions();
                    const page = body.querySelector("#lst-pick-page");
                    if (page) page.checked = rows.every((r) => state.picked.has(r.relation_id));
                  },
                }),
              ),
              columns.map((c) =>
                c.key === "display_name"
                  ? h("td", {}, h("a", { href: `#/views/${viewId}/relations/${row.relation_id}` }, row.display_name))
                  : h("td", { "data-column": c.key }, cell(row, c.key)),
              ),
              h(
                "td",
                {},
                h(
                  "button",
                  {
                    type: "button",
                    class: "link-button lst-why",
                    "aria-label": t("lst_why_of", { name: row.display_name }),
                    onclick: () => showWhy(viewId, listId, row, title),
                  },
                  t("lst_why"),
                ),
              ),
            ),
          ),
        ),
      ),
      h(
        "div",
        { class: "pager" },
        h("button", { type: "button", disabled: state.page === 0, onclick: () => turn(-1) }, `← ${t("previous")}`),
        h("span", { class: "muted" }, pages ? t("lst_page_of", { n: state.page + 1, pages }) : t("page_n", { n: state.page + 1 })),
        h(
          "button",
          { type: "button", disabled: state.complete ? state.page + 1 >= pages : !state.cursors[state.page + 1], onclick: () => turn(1) },
          `${t("next")} →`,
        ),
      ),
    );
    drawActions();
  }

  function sortHeader(column) {
    const sorted = state.sort.key === column.key;
    const canSort = state.complete && (["display_name", "relation_number", "relation_type"].includes(column.key) || state.rows.length <= SORT_CARDS_MAX);
    return h(
      "th",
      { scope: "col", "aria-sort": sorted && canSort ? (state.sort.dir > 0 ? "ascending" : "descending") : null },
      canSort
        ? h(
            "button",
            {
              type: "button",
              class: "lst-sort",
              onclick: async () => {
                state.sort = { key: column.key, dir: sorted ? -state.sort.dir : 1 };
                if (!["display_name", "relation_number", "relation_type"].includes(column.key)) {
                  await readCards(state.rows.map((r) => r.relation_id));
                }
                state.page = 0;
                await draw();
                body.querySelector(`th[aria-sort] button`)?.focus();
              },
            },
            column.label,
            h("span", { "aria-hidden": "true" }, sorted ? (state.sort.dir > 0 ? " ▲" : " ▼") : ""),
          )
        : column.label,
    );
  }

  async function turn(step) {
    state.page += step;
    if (state.complete) await draw();
    else await load();
  }

  async function load() {
    let answer;
    if (state.complete || state.page === 0) {
      answer = await fetchAll();
    } else {
      answer = await get(`/views/${viewId}/lists/${listId}/members${query({ limit: PAGE, cursor: state.cursors[state.page] })}`);
      state.cursors[state.page + 1] = answer.next;
      state.rows = answer.relations;
    }
    if (answer.too_large) {
      mount(
        body,
        h("p", { class: "count", id: "list-count" }, t("count_relations", { count: answer.count })),
        h("p", { class: "notice" }, t("too_large")),
        h("a", { class: "button primary", href: `#/views/${viewId}/filter` }, t("filter_this")),
      );
      mount(toolbar);
      return;
    }
    await draw();
  }

  function drawActions() {
    const n = state.picked.size;
    const canBulk = rights.has("bulk.edit") && view.can_edit;
    mount(
      actions,
      h("span", { id: "lst-picked-count" }, t("lst_picked", { count: n })),
      n ? h("button", { type: "button", onclick: () => (state.picked.clear(), draw()) }, t("lst_unpick")) : null,
      canBulk
        ? h(
            "button",
            {
              type: "button",
              id: "lst-bulk-open",
              onclick: () => {
                mount(bulk, bulkPanel({ view, listId, title, catalogue, picked: new Map(state.picked), onDone: () => load() }));
                bulk.querySelector("h2")?.focus();
              },
            },
            n ? t("lst_bulk_picked", { count: n }) : t("lst_bulk_all"),
          )
        : null,
    );
  }

  // The toolbar: search within the list, and the columns the table shows.
  const search = h("input", {
    type: "search",
    id: "lst-search",
    oninput: debounce(async (e) => {
      state.search = e.target.value;
      state.page = 0;
      if (state.search && state.columns.length) await readCards(state.rows.map((r) => r.relation_id).slice(0, SORT_CARDS_MAX));
      await draw();
    }, 250),
  });
  const columnsBox = h(
    "fieldset",
    { id: "lst-columns", hidden: true },
    h("legend", {}, t("lst_columns_legend")),
    columnChoices(view).map((name) =>
      h(
        "label",
        { class: "lst-inline" },
        h("input", { type: "checkbox", value: name, checked: state.columns.includes(name) }),
        " ",
        labelOf(view, name),
      ),
    ),
    h(
      "button",
      {
        type: "button",
        class: "primary",
        id: "lst-columns-apply",
        onclick: async () => {
          state.columns = [...columnsBox.querySelectorAll("input:checked")].map((b) => b.value);
          chooseColumns(listId, state.columns);
          columnsBox.hidden = true;
          columnsToggle.setAttribute("aria-expanded", "false");
          await draw();
          columnsToggle.focus();
        },
      },
      t("lst_columns_apply"),
    ),
  );
  const columnsToggle = h(
    "button",
    {
      type: "button",
      id: "lst-columns-toggle",
      "aria-expanded": "false",
      "aria-controls": "lst-columns",
      onclick: () => {
        columnsBox.hidden = !columnsBox.hidden;
        columnsToggle.setAttribute("aria-expanded", String(!columnsBox.hidden));
      },
    },
    t("lst_columns"),
  );
  mount(toolbar, field(t("lst_search"), search), columnsToggle);

  // Freeze the list's members now as a selection (for a mailing), then open it.
  const selectionName = h("input", { id: "selection-name", required: true, value: `${title} ${day(today())}` });
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

  const manage = manageSection({ view, listId, detail, title, canManage: rights.has("lists.manage") });
  mount(
    main,
    h("h1", {}, title, " ", h("span", { class: "badge" }, view.name)),
    toolbar,
    columnsBox,
    actions,
    body,
    bulk,
    selectionForm ? h("section", { class: "panel", "aria-labelledby": "sel-title" }, h("h2", { id: "sel-title" }, t("make_selection")), selectionForm) : null,
    h("div", { class: "grid-2" }, membersOnDate(viewId, listId), manage),
  );
  await load();

  // Someone entered or left this list, or a shown relation changed: reload, marking them.
  const changed = new Set();
  const reload = debounce(async () => {
    highlight = new Set(changed);
    for (const id of changed) values.delete(id);
    changed.clear();
    try {
      await load();
      flash(t("list_updated"));
    } catch {
      /* the next event or a reload tries again */
    }
  }, 400);
  const shown = () => new Set(state.rows.map((r) => r.relation_id));
  return listen(viewId, (type, data) => {
    if ((type === "membership" && data.list_id === listId) || (type === "relation" && shown().has(data.relation_id))) {
      changed.add(data.relation_id);
      reload();
    }
  });
}
