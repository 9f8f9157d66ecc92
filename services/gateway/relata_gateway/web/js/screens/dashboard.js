// The dashboard: the search bar in the middle (results as you type), what this user viewed
// last, and what colleagues edited recently (updated live).

import { moment } from "../format.js";
import { get, query } from "../api.js";
import { debounce, field, h, mount } from "../dom.js";
import { fieldLabel, language, t } from "../i18n.js";
import { listen } from "../live.js";
import { go } from "../router.js";
import { currentView, session, setCurrentView } from "../state.js";
import { followUpsPanel } from "./daily/followups.js";
import { hitDetail } from "./daily/functions.js";

export async function renderDashboard(main) {
  const view = currentView();
  if (!view) {
    mount(main, h("h1", {}, t("dashboard")), h("p", { class: "notice" }, t("no_views")));
    return null;
  }
  const results = h("ul", { class: "search-results", role: "listbox", id: "search-results", hidden: true });
  const input = h("input", {
    type: "search",
    id: "search",
    role: "combobox",
    "aria-autocomplete": "list",
    "aria-controls": "search-results",
    "aria-expanded": "false",
    placeholder: t("search_placeholder"),
    autocomplete: "off",
  });
  const searchLabel = h("label", { for: "search", class: "visually-hidden" }, t("search_in", { view: view.name }));
  const recent = h("div", {}, h("p", { class: "muted" }, t("loading")));
  const edited = h("div", {}, h("p", { class: "muted" }, t("loading")));
  const followUps = followUpsPanel();

  let hits = [];
  let active = -1;
  let asked = 0;
  const search = debounce(async () => {
    const q = input.value.trim();
    const ask = ++asked; // answers to older keystrokes arriving late are dropped
    if (!q) return showHits([]);
    const found = await get(`/views/${view.view_id}/search${query({ q, limit: 10 })}`);
    if (ask === asked) showHits(found);
  }, 40); // short: each keystroke is answered (bench/browser_bench.py), stale answers dropped

  function showHits(found) {
    hits = found;
    // The first result is highlighted: it is the one Enter opens.
    active = found.length ? 0 : -1;
    results.hidden = found.length === 0 && !input.value.trim();
    input.setAttribute("aria-expanded", String(!results.hidden));
    mount(
      results,
      found.length === 0
        ? h("li", { class: "muted", role: "option", "aria-disabled": "true" }, t("no_results"))
        : found.map((hit, i) =>
            // An option is not a link (no interactive element inside another): the combobox
            // moves through the options, Enter or a click opens one.
            h(
              "li",
              { role: "option", id: `hit-${i}`, "data-relation": hit.relation_id, "aria-selected": String(i === 0), onclick: () => open(hit) },
              h("strong", {}, hit.display_name),
              hitDetail(hit) ? h("span", { class: "hit-detail" }, ` · ${hitDetail(hit)}`) : null,
              hit.matched_field && !["last_name", "first_name", "city", "email", "relation_number"].includes(hit.matched_field)
                ? h("span", { class: "matched" }, ` · ${fieldLabel(hit.matched_field)}: ${hit.matched_value ?? ""}`)
                : null,
            ),
          ),
    );
    markActive();
  }

  function markActive() {
    if (active < 0) input.removeAttribute("aria-activedescendant");
    else input.setAttribute("aria-activedescendant", `hit-${active}`);
  }

  const open = (hit) => go(`/views/${view.view_id}/relations/${hit.relation_id}`);

  // Arrow keys move through the results, Enter opens one, Escape closes the list.
  input.addEventListener("keydown", (event) => {
    if (event.key === "ArrowDown" || event.key === "ArrowUp") {
      event.preventDefault();
      if (!hits.length) return;
      active = (active + (event.key === "ArrowDown" ? 1 : -1) + hits.length) % hits.length;
      results.querySelectorAll("li").forEach((li, i) => li.setAttribute("aria-selected", String(i === active)));
      markActive();
      results.querySelector(`#hit-${active}`)?.scrollIntoView({ block: "nearest" });
    } else if (event.key === "Enter" && hits.length) {
      event.preventDefault();
      open(hits[Math.max(active, 0)]);
    } else if (event.key === "Escape") {
      input.value = "";
      showHits([]);
    }
  });
  input.addEventListener("input", search);

  const viewPicker =
    session.views.length > 1
      ? field(
          t("view"),
          h(
            "select",
            {
              id: "view-picker",
              onchange: (event) => {
                setCurrentView(event.target.value);
                go("/");
              },
            },
            session.views.map((v) => h("option", { value: v.view_id, selected: v.view_id === view.view_id }, v.name)),
          ),
        )
      : null;

  mount(
    main,
    h("h1", {}, t("dashboard")),
    viewPicker,
    h("div", { class: "search", role: "search" }, searchLabel, input, results),
    followUps.panel,
    h(
      "div",
      { class: "grid-2" },
      h("section", { class: "panel", "aria-labelledby": "recent-title" }, h("h2", { id: "recent-title" }, t("recently_viewed")), recent),
      h("section", { class: "panel", "aria-labelledby": "edited-title" }, h("h2", { id: "edited-title" }, t("recently_edited")), edited),
    ),
  );
  input.focus();

  const loadRecent = async () => {
    const items = await get("/dashboard/recent");
    mount(
      recent,
      items.length === 0
        ? h("p", { class: "muted" }, t("nothing_yet"))
        : h(
            "ul",
            { class: "plain-list" },
            items.map((item) =>
              h(
                "li",
                {},
                h(
                  "a",
                  {
                    href:
                      item.kind === "list"
                        ? `#/views/${item.view_id}/lists/${item.id}`
                        : `#/views/${item.view_id}/relations/${item.id}`,
                  },
                  item.kind === "list" && item.label === "All relations" ? t("all_relations") : item.label,
                ),
                " ",
                h("span", { class: "badge" }, item.kind === "list" ? t("list") : t("relation")),
              ),
            ),
          ),
    );
  };
  const loadEdited = async () => {
    const items = await get(`/views/${view.view_id}/recently-edited${query({ limit: 10 })}`);
    mount(
      edited,
      items.length === 0
        ? h("p", { class: "muted" }, t("nothing_yet"))
        : h(
            "ul",
            { class: "plain-list", id: "recently-edited" },
            items.map((item) =>
              h(
                "li",
                {},
                h("a", { href: `#/views/${view.view_id}/relations/${item.relation_id}` }, item.display_name),
                h(
                  "div",
                  { class: "muted" },
                  `${item.actor_name || t("the_relation_itself")} · ${item.changed_fields.map((name) => fieldLabel(name)).join(", ")} · ${moment(item.at)}`,
                ),
              ),
            ),
          ),
    );
  };
  await Promise.all([loadRecent(), loadEdited(), followUps.load()]);

  // A colleague's change to a relation in this view: reload "recently edited by others".
  const reload = debounce(() => loadEdited().catch(() => {}), 300); // next event retries
  return listen(view.view_id, (type, data) => {
    if (type === "relation" && !data.by_me) reload();
  });
}
