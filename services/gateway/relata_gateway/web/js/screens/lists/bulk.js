// A bulk edit from a list's table: set or clear fields of the ticked relations (frozen first as
// a selection picked by hand) or of the whole list. A dry run shows every change, old → new,
// before anything changes; the run shows its progress; undo puts the previous values back.

import { moment } from "../../format.js";
import { ApiError, get, post } from "../../api.js";
import { h, mount, nextId } from "../../dom.js";
import { messageOf, t } from "../../i18n.js";
import { editorFor } from "../fields.js";
import { cellText, columnChoices, labelOf } from "./table.js";
import "./words.js";

const NOT_IN_BULK = ["relation_number", "addresses", "phones", "emails"]; // numbered, or many values
const POLL_MS = 700;

export function bulkPanel({ view, listId, title, catalogue, picked, onDone }) {
  const viewId = view.view_id;
  const specs = new Map(catalogue.fields.map((f) => [f.name, f]));
  const editable = columnChoices(view).filter((name) => !NOT_IN_BULK.includes(name));
  const rows = [];
  const changesBox = h("div", { id: "lst-bulk-changes" });
  const preview = h("div", { id: "lst-bulk-preview", "aria-live": "polite" });
  const progress = h("div", { id: "lst-bulk-progress-box", "aria-live": "polite" });
  const problem = h("div", { role: "alert" });
  let selectionId = null; // the picked relations, frozen once
  let planned = null; // the changes the last dry run showed
  let timer = null;

  function addRow(name = editable[0]) {
    const row = { name, editor: editorFor(name, null, specs.get(name), t), clear: false };
    rows.push(row);
    drawChanges();
  }

  function drawChanges() {
    mount(
      changesBox,
      rows.map((row, i) => {
        const id = nextId("bulk-field");
        return h(
          "div",
          { class: "row lst-bulk-row", role: "group", "aria-label": t("lst_bulk_change_n", { n: i + 1 }) },
          h(
            "label",
            { class: "field", for: id },
            h("span", {}, t("lst_bulk_field")),
            h(
              "select",
              {
                id,
                class: "lst-bulk-field",
                onchange: (e) => {
                  row.name = e.target.value;
                  row.editor = editorFor(row.name, null, specs.get(row.name), t);
                  stale();
                  drawChanges();
                },
              },
              editable.map((name) => h("option", { value: name, selected: name === row.name }, labelOf(view, name))),
            ),
          ),
          row.clear ? null : h("div", { class: "lst-bulk-value", oninput: stale, onchange: stale }, row.editor.node),
          h(
            "label",
            { class: "field" },
            h("input", { type: "checkbox", checked: row.clear, onchange: (e) => ((row.clear = e.target.checked), stale(), drawChanges()) }),
            " ",
            t("lst_bulk_clear"),
          ),
          rows.length > 1 ? h("button", { type: "button", onclick: () => (rows.splice(i, 1), stale(), drawChanges()) }, t("lst_bulk_remove")) : null,
        );
      }),
    );
  }

  // A changed value makes the last dry run stale: the run waits for a new one.
  function stale() {
    planned = null;
    run.disabled = true;
  }

  function changes() {
    return Object.fromEntries(rows.map((row) => [row.name, row.clear ? null : row.editor.read()]));
  }

  async function source() {
    if (!picked.size) return { list_id: listId };
    if (!selectionId) {
      const stamp = moment(new Date().toISOString());
      const made = await post(`/views/${viewId}/selections`, {
        name: `${t("lst_bulk_selection_name")} ${stamp}`,
        list_id: listId,
        relation_ids: [...picked.keys()],
      });
      selectionId = made.selection_id;
    }
    return { selection_id: selectionId };
  }

  function failed(error) {
    const detail = error instanceof ApiError && Array.isArray(error.detail) ? error.detail.map((d) => `${d.loc.at(-1)}: ${d.msg}`).join("; ") : messageOf(error);
    mount(problem, h("p", { class: "error" }, detail));
  }

  async function dryRun() {
    mount(problem);
    try {
      const wanted = changes();
      const answer = await post(`/views/${viewId}/bulk-edits`, { source: await source(), changes: wanted, dry_run: true });
      planned = wanted;
      run.disabled = answer.changing === 0;
      const show = (name, value) => cellText(name, value, specs.get(name)) || "—";
      mount(
        preview,
        h("h3", {}, t("lst_bulk_preview_title")),
        h("p", { id: "lst-bulk-summary" }, t("lst_bulk_summary", { relations: answer.relations, changing: answer.changing, unchanged: answer.unchanged, skipped: answer.skipped })),
        h(
          "table",
          { id: "lst-bulk-planned" },
          h("caption", { class: "visually-hidden" }, t("lst_bulk_preview_title")),
          h("thead", {}, h("tr", {}, [t("name"), t("lst_bulk_field"), t("lst_bulk_old"), t("lst_bulk_new"), t("lst_bulk_outcome")].map((c) => h("th", { scope: "col" }, c)))),
          h(
            "tbody",
            {},
            answer.planned.flatMap((p) =>
              (p.changes.length ? p.changes : [null]).map((c) =>
                h(
                  "tr",
                  {},
                  h("td", {}, p.display_name ?? "—"),
                  h("td", {}, c ? labelOf(view, c.field) : ""),
                  h("td", {}, c ? show(c.field, c.old) : ""),
                  h("td", {}, c ? show(c.field, c.new) : ""),
                  h("td", {}, t(`lst_outcome_${p.outcome}`), p.reason ? ` (${p.reason})` : ""),
                ),
              ),
            ),
          ),
        ),
      );
    } catch (error) {
      failed(error);
    }
  }

  async function start() {
    if (!planned) return;
    run.disabled = true;
    mount(problem);
    try {
      const batch = await post(`/views/${viewId}/bulk-edits`, { source: await source(), changes: planned, dry_run: false });
      follow(batch);
    } catch (error) {
      failed(error);
    }
  }

  function follow(batch) {
    const total = batch.total ?? 0;
    const finished = batch.status !== "running";
    mount(
      progress,
      h("h3", {}, t("lst_bulk_progress_title")),
      h("progress", { id: "lst-bulk-progress", max: Math.max(total, 1), value: batch.done, "aria-label": t("lst_bulk_progress_title") }),
      h(
        "p",
        { id: "lst-bulk-status" },
        finished ? t(`lst_bulk_${batch.status}`) : t("lst_bulk_running"),
        " ",
        t("lst_bulk_counts", { done: batch.done, total, changed: batch.changed, unchanged: batch.unchanged, failed: batch.failed }),
      ),
      finished && !batch.undone_at
        ? h("button", { type: "button", id: "lst-bulk-undo", onclick: () => undo(batch.batch_id) }, t("lst_bulk_undo"))
        : null,
    );
    if (!finished) {
      timer = setTimeout(async () => {
        if (!panel.isConnected) return; // the user went elsewhere: stop asking
        try {
          follow(await get(`/views/${viewId}/bulk-edits/${batch.batch_id}`));
        } catch (error) {
          failed(error);
        }
      }, POLL_MS);
    } else {
      onDone();
    }
  }

  async function undo(batchId) {
    clearTimeout(timer);
    try {
      const answer = await post(`/views/${viewId}/bulk-edits/${batchId}/undo`);
      mount(
        progress,
        h("h3", {}, t("lst_bulk_progress_title")),
        h("p", { class: "ok", id: "lst-bulk-undone" }, t("lst_bulk_undone", { restored: answer.restored })),
        answer.conflicts.length ? h("p", { class: "notice" }, t("lst_bulk_conflicts", { count: answer.conflicts.length })) : null,
      );
      onDone();
    } catch (error) {
      failed(error);
    }
  }

  const run = h("button", { type: "button", class: "primary", id: "lst-bulk-run", disabled: true, onclick: start }, t("lst_bulk_run"));
  const panel = h(
    "section",
    { class: "panel", id: "lst-bulk", "aria-labelledby": "lst-bulk-title" },
    h("h2", { id: "lst-bulk-title", tabindex: "-1" }, t("lst_bulk_title")),
    h(
      "p",
      { id: "lst-bulk-scope" },
      picked.size ? t("lst_bulk_scope_picked", { count: picked.size }) : t("lst_bulk_scope_all", { list: title }),
    ),
    editable.length ? changesBox : h("p", { class: "muted" }, t("lst_bulk_nothing")),
    h(
      "div",
      { class: "row" },
      h("button", { type: "button", onclick: () => (addRow(), stale()) }, t("lst_bulk_add")),
      h("button", { type: "button", id: "lst-bulk-dry", onclick: dryRun }, t("lst_bulk_dry")),
      run,
    ),
    problem,
    preview,
    progress,
  );
  if (editable.length) addRow(editable.includes("salutation") ? "salutation" : editable[0]);
  return panel;
}
