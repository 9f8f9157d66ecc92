// The card's summary header (relation number, main address, e-mail, phone at a glance) and
// the archive action: archiving takes the relation out of every list, so the card gives way
// to a notice with "Unarchive", and comes back once the lists hold the relation again.

import { request } from "../../api.js";
import { flash, h, mount } from "../../dom.js";
import { messageOf, t } from "../../i18n.js";
import { go } from "../../router.js";
import { session } from "../../state.js";
import { addressLine } from "../../format.js";
import "./words.js";

const ARCHIVE_RIGHT = "relations.archive";
const RETURN_TRIES = 20;
const RETURN_PAUSE_MS = 750;

export const mayArchive = (card) => card.can_edit && Boolean(session.me?.rights?.includes(ARCHIVE_RIGHT));

/** A field's value wherever the form puts it (null when the form does not show it). */
function valueOf(card, name) {
  for (const tab of card.tabs || []) {
    if (tab.fields && name in tab.fields) return tab.fields[name];
  }
  return undefined;
}

export function summary(card) {
  const first = (name) => {
    const value = valueOf(card, name);
    return Array.isArray(value) ? value[0] : value;
  };
  const rows = [
    ["relation_number", t("relation_number"), first("relation_number")],
    ["addresses", t("day_main_address"), addressLine(first("addresses"))],
    ["emails", t("day_email"), first("emails")?.address],
    ["phones", t("day_phone"), first("phones")?.number],
  ].filter(([name]) => valueOf(card, name) !== undefined);
  if (!rows.length) return null;
  return h(
    "dl",
    { class: "day-summary", id: "card-summary" },
    rows.map(([name, label, value]) =>
      h(
        "div",
        { "data-summary": name },
        h("dt", {}, label),
        h("dd", {}, name === "emails" && value ? h("a", { href: `mailto:${value}` }, value) : value || h("span", { class: "muted" }, "—")),
      ),
    ),
  );
}

/** The Archive button (only for who may: others get nothing to press). */
export function archiveButton(card, base, etag, onArchived) {
  if (!mayArchive(card)) return null;
  return h(
    "button",
    {
      type: "button",
      id: "archive",
      onclick: async () => {
        if (!confirm(t("day_archive_confirm", { name: card.display_name }))) return;
        try {
          const answer = await request("POST", `${base}/archive`, undefined, { ifMatch: etag() });
          flash(t("day_archived"));
          onArchived(answer.data);
        } catch (error) {
          flash(messageOf(error));
        }
      },
    },
    t("day_archive"),
  );
}

/** What the card shows of an archived relation: its name, a notice and "Unarchive". */
export function renderArchived(main, shown, base, path) {
  const unarchive = h(
    "button",
    {
      type: "button",
      id: "unarchive",
      class: "primary",
      onclick: async () => {
        if (!confirm(t("day_unarchive_confirm", { name: shown.display_name }))) return;
        unarchive.disabled = true;
        try {
          await request("POST", `${base}/unarchive`, undefined, { ifMatch: `"${shown.version}"` });
          flash(t("day_unarchived"));
          mount(note, t("day_unarchive_wait"));
          await waitForCard(base);
          go(path);
        } catch (error) {
          unarchive.disabled = false;
          flash(messageOf(error));
        }
      },
    },
    t("day_unarchive"),
  );
  const note = h("p", { class: "notice", id: "archived-notice" }, t("day_archived_notice", { name: shown.display_name }));
  mount(
    main,
    h("div", { class: "card-head" }, h("div", {}, h("h1", { id: "card-title" }, shown.display_name), h("span", { class: "badge" }, t("day_archived_badge")))),
    note,
    session.me?.rights?.includes(ARCHIVE_RIGHT) ? h("p", {}, unarchive) : null,
  );
  unarchive.focus();
}

/** Wait (a few seconds at most) until the view's lists hold the relation and its card opens. */
export async function waitForCard(base) {
  for (let i = 0; i < RETURN_TRIES; i += 1) {
    try {
      await request("GET", base);
      return;
    } catch (error) {
      if (error.status !== 404) throw error;
    }
    await new Promise((resolve) => setTimeout(resolve, RETURN_PAUSE_MS));
  }
}
