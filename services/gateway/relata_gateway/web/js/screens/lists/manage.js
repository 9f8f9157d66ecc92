// Beside a list's table: managing a saved list (rename, change its filter, copy or move it to
// another view, delete it: refused while something uses it, which is named), who was in it on
// a date, and why a relation is in it (each entry and exit with its cause).

import { get, query, request } from "../../api.js";
import { field, flash, h, mount } from "../../dom.js";
import { language, messageOf, t } from "../../i18n.js";
import { go } from "../../router.js";
import { reloadViews, session } from "../../state.js";
import { day as formatDay, moment } from "../../format.js";
import { labelOf } from "./table.js";
import "./words.js";

const USED_BY_KINDS = ["rules", "merge_rules", "properties", "selections", "lists"];

export function manageSection({ view, listId, detail, title, canManage }) {
  const data = detail.data;
  if (data.base || !view.can_edit || !canManage) return null;
  const base = `/views/${view.view_id}/lists/${listId}`;
  const message = h("div", { id: "lst-manage-message", role: "alert" });
  let etag = detail.etag;

  const name = h("input", { id: "lst-rename", required: true, value: title, maxlength: 200 });
  const rename = h(
    "form",
    {
      class: "row",
      onsubmit: async (event) => {
        event.preventDefault();
        try {
          const answer = await request("PATCH", base, { name: name.value }, { ifMatch: etag });
          etag = answer.etag || etag;
          await reloadViews();
          flash(t("lst_renamed"));
          go(`/views/${view.view_id}/lists/${listId}`);
        } catch (error) {
          mount(message, h("p", { class: "error" }, messageOf(error)));
        }
      },
    },
    field(t("lst_new_name"), name),
    h("button", { type: "submit" }, t("lst_rename")),
  );

  const others = session.views.filter((v) => v.view_id !== view.view_id && v.can_edit);
  const target = h("select", { id: "lst-copy-target" }, others.map((v) => h("option", { value: v.view_id }, v.name)));
  const move = h("input", { type: "checkbox", id: "lst-copy-move" });
  const copyName = h("input", { id: "lst-copy-name", maxlength: 200 });
  const copy = others.length
    ? h(
        "form",
        {
          class: "row",
          onsubmit: async (event) => {
            event.preventDefault();
            try {
              const body = { view_id: target.value, move: move.checked };
              if (copyName.value.trim()) body.name = copyName.value.trim();
              const made = (await request("POST", `${base}/copy`, body)).data;
              await reloadViews();
              flash(move.checked ? t("lst_moved") : t("lst_copied"));
              go(`/views/${target.value}/lists/${made.list_id}`);
            } catch (error) {
              mount(message, h("p", { class: "error" }, messageOf(error)));
            }
          },
        },
        field(t("lst_to_view"), target),
        field(t("lst_name_there"), copyName),
        h("label", { class: "field" }, move, " ", t("lst_move_instead")),
        h("button", { type: "submit" }, t("lst_copy_or_move")),
      )
    : null;

  const confirmBox = h("div", { id: "lst-delete-confirm" });
  const askDelete = () =>
    mount(
      confirmBox,
      h("p", {}, t("lst_delete_sure", { name: title })),
      h(
        "div",
        { class: "row" },
        h("button", { type: "button", class: "danger", id: "lst-delete-yes", onclick: remove }, t("lst_delete_yes")),
        h("button", { type: "button", onclick: () => (mount(confirmBox), deleteButton.focus()) }, t("cancel")),
      ),
    );
  async function remove() {
    try {
      await request("DELETE", base);
      await reloadViews();
      flash(t("lst_deleted", { name: title }));
      go(`/views/${view.view_id}/lists`);
    } catch (error) {
      mount(confirmBox);
      mount(message, error.status === 409 ? usedBy(error) : h("p", { class: "error" }, messageOf(error)));
      message.querySelector("p")?.focus();
    }
  }
  const deleteButton = h("button", { type: "button", id: "lst-delete", onclick: askDelete }, t("lst_delete"));

  return h(
    "section",
    { class: "panel", "aria-labelledby": "lst-manage-title", id: "lst-manage" },
    h("h2", { id: "lst-manage-title" }, t("lst_manage")),
    message,
    rename,
    h("p", {}, h("a", { class: "button", href: `#${base}/filter`, id: "lst-edit-filter" }, t("lst_edit_filter"))),
    copy ? h("h3", {}, t("lst_copy_title")) : null,
    copy,
    h("h3", {}, t("lst_delete_title")),
    deleteButton,
    confirmBox,
  );
}

/** A 409's used_by as a list: what to change before the list can go. */
function usedBy(error) {
  const found = (error.body && error.body.used_by) || {};
  const items = USED_BY_KINDS.flatMap((kind) => (found[kind] || []).map((user) => h("li", {}, `${t(`lst_used_${kind}`)}: ${user.name}`)));
  return h(
    "div",
    { class: "error", id: "lst-used-by" },
    h("p", { tabindex: "-1" }, t("lst_still_used")),
    items.length ? h("ul", {}, items) : h("p", {}, messageOf(error)),
  );
}

/** Who was in the list at the end of a chosen day. */
export function membersOnDate(viewId, listId) {
  const day = h("input", { type: "date", id: "lst-on-date", required: true });
  const out = h("div", { id: "lst-on-result", "aria-live": "polite" });
  async function show(cursor = null, shown = []) {
    try {
      const answer = await get(`/views/${viewId}/lists/${listId}/members-at${query({ on: day.value, limit: 50, cursor })}`);
      const names = shown.concat(answer.relations);
      mount(
        out,
        h("p", {}, t("lst_on_count", { day: formatDay(answer.on), count: answer.member_count })),
        h("ul", { class: "plain-list" }, names.map((r) => h("li", {}, h("a", { href: `#/views/${viewId}/relations/${r.relation_id}` }, r.display_name)))),
        answer.next ? h("button", { type: "button", onclick: () => show(answer.next, names) }, t("lst_more")) : null,
      );
    } catch (error) {
      mount(out, h("p", { class: "error" }, messageOf(error)));
    }
  }
  return h(
    "section",
    { class: "panel", "aria-labelledby": "lst-on-title" },
    h("h2", { id: "lst-on-title" }, t("lst_on_title")),
    h(
      "form",
      { class: "row", onsubmit: (e) => (e.preventDefault(), show()) },
      field(t("lst_on_day"), day),
      h("button", { type: "submit" }, t("lst_on_show")),
    ),
    out,
  );
}

/** "Why is this relation here?": a dialog with each entry and exit, newest first. */
export async function showWhy(viewId, listId, row, listTitle) {
  const view = session.views.find((v) => v.view_id === viewId);
  const opener = document.activeElement;
  const body = h("div", { id: "lst-why-body" }, h("p", { class: "muted" }, t("loading")));
  const dialog = h(
    "dialog",
    { id: "lst-why", "aria-labelledby": "lst-why-title", class: "lst-dialog" },
    h("h2", { id: "lst-why-title" }, t("lst_why_title", { name: row.display_name, list: listTitle })),
    body,
    h("button", { type: "button", id: "lst-why-close", onclick: () => dialog.close() }, t("lst_close")),
  );
  dialog.addEventListener("close", () => {
    dialog.remove();
    opener?.focus?.();
  });
  document.body.append(dialog);
  dialog.showModal();
  try {
    const why = await get(`/views/${viewId}/lists/${listId}/members/${row.relation_id}/why`);
    mount(
      body,
      h("p", { class: why.member ? "ok" : "notice" }, why.member ? t("lst_is_member") : t("lst_not_member")),
      why.history.length
        ? h(
            "ol",
            { class: "timeline" },
            why.history.map((entry) =>
              h(
                "li",
                {},
                h("strong", {}, entry.change === "entered" ? t("lst_entered") : t("lst_left")),
                " · ",
                moment(entry.at),
                h("div", {}, causeText(entry)),
                entry.criteria.length ? h("div", { class: "muted" }, `${entry.change === "entered" ? t("lst_matched") : t("lst_failed")}: ${entry.criteria.join("; ")}`) : null,
                entry.changed_fields.length
                  ? h("div", { class: "muted" }, `${t("lst_changed_fields")}: ${entry.changed_fields.map((f) => labelOf(view, f)).join(", ")}`)
                  : null,
              ),
            ),
          )
        : h("p", { class: "muted" }, t("lst_no_history")),
    );
  } catch (error) {
    mount(body, h("p", { class: "error" }, messageOf(error)));
  }
}

function causeText(entry) {
  const key = `lst_cause_${entry.cause.replace(/\./g, "_")}`;
  const text = t(key);
  return text === key ? entry.explanation : text;
}
