// Selections: frozen from a list (made from the list screen), refreshed to see who was added
// and who was removed since (by hand, every day at a chosen time, or just before a mailing),
// exported as CSV with the columns chosen (sensitive ones start unticked) and headers in the
// user's language.

import { moment } from "../format.js";
import { download, get, post, query, request } from "../api.js";
import { field, flash, h, mount } from "../dom.js";
import { fieldLabel, language, messageOf, t } from "../i18n.js";
import { setCurrentView, viewById } from "../state.js";
import { labelOf } from "./lists/table.js";
import "./lists/words.js";

// Columns a mailing rarely needs and that say much about a person: ticked only on purpose.
const SENSITIVE = ["birth_date", "gender", "iban", "phone", "coc_number"];

export async function renderSelections(main, { view: viewId }) {
  const view = viewById(viewId);
  if (!view) throw Object.assign(new Error("not found"), { status: 404 });
  setCurrentView(viewId);
  const items = await get(`/views/${viewId}/selections`);
  mount(
    main,
    h("h1", {}, t("selections"), " ", h("span", { class: "badge" }, view.name)),
    h("p", { class: "muted" }, t("selections_intro")),
    items.length
      ? h(
          "table",
          { id: "selections" },
          h(
            "thead",
            {},
            h("tr", {}, [t("name"), t("from_list"), t("members"), t("refreshed"), t("lst_schedule")].map((c) => h("th", { scope: "col" }, c))),
          ),
          h(
            "tbody",
            {},
            items.map((s) =>
              h(
                "tr",
                {},
                h("td", {}, h("a", { href: `#/views/${viewId}/selections/${s.selection_id}` }, s.name)),
                h("td", {}, s.list_name ?? "—"),
                h("td", {}, s.member_count ?? "—"),
                h("td", {}, moment(s.refreshed_at || s.created_at)),
                h("td", {}, scheduleText(s)),
              ),
            ),
          ),
        )
      : h("p", {}, t("no_selections")),
  );
  return null;
}

export async function renderSelection(main, { view: viewId, selection: selectionId }) {
  const view = viewById(viewId);
  if (!view) throw Object.assign(new Error("not found"), { status: 404 });
  const base = `/views/${viewId}/selections/${selectionId}`;
  let detail = await get(base);
  const changes = h("div", { id: "refresh-changes", "aria-live": "polite" });
  const members = h("div", {});
  const history = h("div", {});

  const names = (relations) =>
    relations.length
      ? h("ul", { class: "plain-list" }, relations.map((r) => h("li", {}, h("a", { href: `#/views/${viewId}/relations/${r.relation_id}` }, r.display_name))))
      : h("p", { class: "muted" }, t("nobody"));

  function showChanges(done) {
    mount(
      changes,
      h("p", { class: "ok" }, t("refresh_result", { added: done.added_count, removed: done.removed_count })),
      h(
        "div",
        { class: "grid-2" },
        h("section", {}, h("h3", {}, t("added")), names(done.added)),
        h("section", {}, h("h3", {}, t("removed")), names(done.removed)),
      ),
      done.not_shown ? h("p", { class: "muted" }, t("not_shown", { count: done.not_shown })) : null,
    );
  }

  async function loadMembers(cursor = null) {
    const page = await get(`${base}/members${query({ limit: 25, cursor })}`);
    mount(
      members,
      names(page.relations),
      page.next ? h("button", { type: "button", onclick: () => loadMembers(page.next) }, `${t("next")} →`) : null,
    );
  }

  function drawHistory() {
    mount(
      history,
      detail.refreshes.length
        ? h(
            "ul",
            { class: "plain-list" },
            detail.refreshes.map((r) =>
              h(
                "li",
                {},
                h(
                  "button",
                  {
                    type: "button",
                    class: "link-button",
                    onclick: async () => showChanges(await get(`${base}/refreshes/${r.refresh_id}`)),
                  },
                  moment(r.at),
                ),
                ` · +${r.added_count} / −${r.removed_count}`,
              ),
            ),
          )
        : h("p", { class: "muted" }, t("never_refreshed")),
    );
  }

  const columns = h(
    "fieldset",
    { id: "export-columns" },
    h("legend", {}, t("columns")),
    h("p", { class: "muted" }, t("lst_export_sensitive")),
    detail.export_fields.map((name) =>
      h(
        "label",
        { class: "lst-inline" },
        h("input", { type: "checkbox", value: name, checked: !SENSITIVE.includes(name) }),
        " ",
        view.labels && view.labels[name] ? labelOf(view, name) : fieldLabel(name),
      ),
    ),
  );
  const technical = h("input", { type: "checkbox", id: "export-technical" });
  const count = h("p", { class: "count", id: "selection-count" });
  const drawCount = () => (count.textContent = t("count_relations", { count: detail.member_count ?? 0 }));

  mount(
    main,
    h("h1", {}, detail.name, " ", h("span", { class: "badge" }, view.name)),
    h("p", { class: "muted" }, t("from_list"), ": ", h("a", { href: `#/views/${viewId}/lists/${detail.list_id}` }, detail.list_name ?? "—")),
    count,
    h(
      "div",
      { class: "row" },
      view.can_edit
        ? h(
            "button",
            {
              type: "button",
              class: "primary",
              id: "refresh",
              onclick: async (event) => {
                event.target.disabled = true;
                try {
                  showChanges(await post(`${base}/refresh`));
                  detail = await get(base);
                  drawCount();
                  drawHistory();
                  loadMembers();
                } catch (error) {
                  flash(messageOf(error));
                } finally {
                  event.target.disabled = false;
                }
              },
            },
            t("refresh"),
          )
        : null,
    ),
    changes,
    h(
      "section",
      { class: "panel", "aria-labelledby": "export-title" },
      h("h2", { id: "export-title" }, t("export_csv")),
      columns,
      h("label", { class: "field" }, technical, " ", t("lst_export_technical")),
      h(
        "button",
        {
          type: "button",
          id: "export",
          onclick: async () => {
            const chosen = [...columns.querySelectorAll("input:checked")].map((box) => box.value);
            try {
              const headers = technical.checked ? null : language();
              await download(`${base}/export${query({ fields: chosen.join(","), language: headers })}`, `${detail.name}.csv`);
            } catch (error) {
              flash(messageOf(error));
            }
          },
        },
        t("download_csv"),
      ),
    ),
    view.can_edit ? schedulePanel() : null,
    h(
      "div",
      { class: "grid-2" },
      h("section", { class: "panel", "aria-labelledby": "members-title" }, h("h2", { id: "members-title" }, t("members")), members),
      h("section", { class: "panel", "aria-labelledby": "history-title" }, h("h2", { id: "history-title" }, t("refreshes")), history),
    ),
  );
  // Refreshed every day at a chosen time, and once more just before a mailing goes out.
  function schedulePanel() {
    const daily = h("input", { type: "checkbox", id: "schedule-daily", checked: Boolean(detail.daily_refresh) });
    const at = h("input", { type: "time", id: "schedule-at", value: detail.daily_at ? detail.daily_at.slice(0, 5) : "06:30" });
    const now = h("p", { id: "schedule-now" }, scheduleText(detail));
    const answer = h("div", { role: "alert" });
    return h(
      "section",
      { class: "panel", "aria-labelledby": "schedule-title", id: "schedule" },
      h("h2", { id: "schedule-title" }, t("lst_schedule_title")),
      now,
      h(
        "form",
        {
          class: "row",
          onsubmit: async (event) => {
            event.preventDefault();
            mount(answer);
            try {
              const body = daily.checked ? { daily_refresh: true, daily_at: at.value || null } : { daily_refresh: false };
              const changed = (await request("PATCH", base, body)).data;
              detail = { ...detail, ...changed };
              now.textContent = scheduleText(detail);
              flash(t("lst_schedule_saved"));
            } catch (error) {
              mount(answer, h("p", { class: "error" }, messageOf(error)));
            }
          },
        },
        h("label", { class: "field" }, daily, " ", t("lst_schedule_daily")),
        field(t("lst_schedule_at"), at),
        h("button", { type: "submit" }, t("lst_schedule_save")),
      ),
      answer,
      h("h3", {}, t("lst_mailing_title")),
      h("p", { class: "muted" }, t("lst_mailing_intro")),
      h(
        "button",
        {
          type: "button",
          id: "mailing-refresh",
          onclick: async (event) => {
            event.target.disabled = true;
            try {
              const done = await post(`${base}/mailing-refresh`);
              if (done.refresh) showChanges(done.refresh);
              else mount(changes, h("p", { class: "ok" }, t("lst_mailing_manual")));
              detail = await get(base);
              drawCount();
              drawHistory();
              loadMembers();
            } catch (error) {
              flash(messageOf(error));
            } finally {
              event.target.disabled = false;
            }
          },
        },
        t("lst_mailing_refresh"),
      ),
    );
  }

  drawCount();
  drawHistory();
  await loadMembers();
  return null;
}

function scheduleText(selection) {
  if (!selection.daily_refresh) return t("lst_schedule_none");
  if (!selection.daily_at) return t("lst_schedule_daily_first");
  return t("lst_schedule_daily_at", { time: selection.daily_at.slice(0, 5) });
}
