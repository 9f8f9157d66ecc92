// Contact moments and their follow-ups, in a tab of their own on the card: log a moment, edit
// or delete one (If-Match with the version read), ask someone to follow one up by a date, and
// mark a follow-up done.

import { get, query, request } from "../../api.js";
import { field, flash, h, mount } from "../../dom.js";
import { messageOf, t } from "../../i18n.js";
import { session } from "../../state.js";
import { day, moment as when, today } from "../../format.js";
import "./words.js";

const KINDS = ["phone", "email", "visit", "letter", "meeting", "other"];
const tag = (version) => `"${version}"`;
let colleagues = null; // who can be asked to follow up: [{ id, name }]
window.addEventListener("relata:logged-out", () => (colleagues = null)); // another user may log in

/** Whom a follow-up can be assigned to: oneself first, then the colleagues by name. */
async function assignees() {
  if (colleagues) return colleagues;
  const me = { id: session.me.user_id, name: t("day_me", { name: session.me.display_name }) };
  let others = [];
  try {
    others = (await get("/colleagues")).filter((c) => c.user_id !== me.id).map((c) => ({ id: c.user_id, name: c.display_name }));
  } catch {
    /* oneself is always possible */
  }
  colleagues = [me, ...others];
  return colleagues;
}

// A form open in the timeline: what the user is typing there.
const busy = (body) => body.querySelector("details[open], #moment-edit-form");

export async function momentsSection(body, ctx, cursor = null, shown = [], live = false) {
  // A change published by the platform redraws the timeline, unless the user is filling in a
  // form in it (what they typed would go), also when they opened it while the timeline was
  // being read; their own saves redraw it anyway.
  ctx.redrawMoments = ({ live: published = false } = {}) => {
    if (published && busy(body)) return null;
    return momentsSection(body, ctx, null, [], published).catch((error) => flash(messageOf(error)));
  };
  const page = await get(`${ctx.base}/contact-moments${query({ limit: 10, cursor })}`);
  // The timeline leaves follow-ups out: each moment is read whole (with its version).
  const full = await Promise.all(
    page.contact_moments.map((m) => request("GET", `/views/${ctx.viewId}/contact-moments/${m.contact_moment_id}`).then((a) => a.data)),
  );
  const all = [...shown, ...full];
  const people = await assignees();
  if (live && busy(body)) return;
  mount(
    body,
    ctx.card.can_edit ? momentForm(ctx, null) : null,
    all.length
      ? h("ol", { class: "timeline", id: "timeline" }, all.map((m) => momentItem(m, ctx, people)))
      : h("p", { class: "muted" }, t("no_moments")),
    page.next ? h("button", { type: "button", onclick: () => momentsSection(body, ctx, page.next, all) }, t("older")) : null,
  );
}

function momentItem(m, ctx, people) {
  const path = `/views/${ctx.viewId}/contact-moments/${m.contact_moment_id}`;
  const item = h("li", { "data-moment": m.contact_moment_id });
  const show = () =>
    mount(
      item,
      h("h3", { class: "day-moment-subject" }, m.subject),
      h(
        "div",
        { class: "muted" },
        `${t(`moment_${m.kind}`)} · ${m.direction === "in" ? t("incoming") : t("outgoing")} · ${when(m.occurred_at)}${m.logged_by ? ` · ${m.logged_by}` : ""}`,
      ),
      m.notes ? h("p", {}, m.notes) : null,
      followUps(m, ctx),
      ctx.card.can_edit
        ? h(
            "div",
            { class: "row day-actions" },
            h("button", { type: "button", onclick: () => mount(item, momentForm(ctx, m)) }, t("day_edit_moment"), h("span", { class: "visually-hidden" }, ` ${m.subject}`)),
            h(
              "button",
              {
                type: "button",
                onclick: async () => {
                  if (!confirm(t("day_delete_moment_confirm"))) return;
                  try {
                    await request("DELETE", path, undefined, { ifMatch: tag(m.version) });
                    flash(t("day_moment_deleted"));
                    ctx.redrawMoments();
                  } catch (error) {
                    flash(messageOf(error));
                  }
                },
              },
              t("day_delete_moment"),
              h("span", { class: "visually-hidden" }, ` ${m.subject}`),
            ),
          )
        : null,
      ctx.card.can_edit ? followUpForm(m, ctx, people) : null,
    );
  show();
  return item;
}

function followUps(m, ctx) {
  const items = m.follow_ups || [];
  if (!items.length) return null;
  const path = `/views/${ctx.viewId}/contact-moments/${m.contact_moment_id}/follow-ups`;
  const toggle = async (f) => {
    try {
      await request("PATCH", `${path}/${f.follow_up_id}`, { done: !f.done }, { ifMatch: tag(f.version) });
      flash(t(f.done ? "day_follow_up_reopened" : "day_follow_up_done"));
      ctx.redrawMoments();
    } catch (error) {
      flash(messageOf(error));
    }
  };
  return h(
    "div",
    { class: "day-follow-ups" },
    h("h4", {}, t("day_follow_ups")),
    h(
      "ul",
      { class: "plain-list" },
      items.map((f) =>
        h(
          "li",
          { class: f.done ? "day-done" : null },
          h("span", {}, `${t("day_due", { date: day(f.due_on) })} · ${f.assignee_name || "—"}${f.note ? ` · ${f.note}` : ""}`),
          " ",
          f.done ? h("span", { class: "badge" }, t("day_done")) : null,
          ctx.card.can_edit
            ? h("button", { type: "button", class: "day-small", onclick: () => toggle(f) }, f.done ? t("day_reopen") : t("day_mark_done"), h("span", { class: "visually-hidden" }, ` ${f.note || m.subject}`))
            : null,
        ),
      ),
    ),
  );
}

function followUpForm(m, ctx, people) {
  const assignee = h("select", { name: "assignee_id" }, people.map((p) => h("option", { value: p.id }, p.name)));
  const due = h("input", { type: "date", name: "due_on", value: today(7), required: true });
  const note = h("input", { name: "note", maxlength: 5000, size: 30 });
  return h(
    "details",
    { class: "day-add" },
    h("summary", {}, t("day_add_follow_up"), h("span", { class: "visually-hidden" }, ` ${m.subject}`)),
    h(
      "form",
      {
        class: "follow-up-form",
        onsubmit: async (event) => {
          event.preventDefault();
          try {
            await request("POST", `/views/${ctx.viewId}/contact-moments/${m.contact_moment_id}/follow-ups`, {
              assignee_id: assignee.value,
              due_on: due.value,
              note: note.value,
            });
            flash(t("day_follow_up_added"));
            ctx.redrawMoments();
          } catch (error) {
            flash(messageOf(error));
          }
        },
      },
      h("div", { class: "row" }, field(t("day_assignee"), assignee), field(t("day_due_on"), due), field(t("day_note"), note)),
      h("button", { type: "submit", class: "primary" }, t("day_add_follow_up")),
    ),
  );
}

/** Log a new moment (m null) or change one. */
function momentForm(ctx, m) {
  const local = (iso) => {
    const d = iso ? new Date(iso) : new Date();
    return new Date(d.getTime() - d.getTimezoneOffset() * 60000).toISOString().slice(0, 16);
  };
  const kind = h("select", { name: "kind" }, KINDS.map((k) => h("option", { value: k, selected: m?.kind === k }, t(`moment_${k}`))));
  const direction = h(
    "select",
    { name: "direction" },
    h("option", { value: "in", selected: m?.direction === "in" }, t("incoming")),
    h("option", { value: "out", selected: m?.direction === "out" }, t("outgoing")),
  );
  const subject = h("input", { name: "subject", required: true, maxlength: 300, size: 40, value: m?.subject || "" });
  const notes = h("textarea", { name: "notes", rows: 2, cols: 50 });
  notes.value = m?.notes || "";
  const occurred = h("input", { name: "occurred_at", type: "datetime-local", value: local(m?.occurred_at), required: true });
  const problem = h("div", { role: "alert" });
  const form = h(
    "form",
    {
      id: m ? "moment-edit-form" : "moment-form",
      onsubmit: async (event) => {
        event.preventDefault();
        mount(problem);
        const values = {
          kind: kind.value,
          direction: direction.value,
          subject: subject.value,
          notes: notes.value,
          occurred_at: new Date(occurred.value).toISOString(),
        };
        try {
          if (m) {
            await request("PATCH", `/views/${ctx.viewId}/contact-moments/${m.contact_moment_id}`, values, { ifMatch: tag(m.version) });
            flash(t("day_moment_saved"));
          } else {
            await request("POST", `${ctx.base}/contact-moments`, values);
            flash(t("moment_logged"));
          }
          ctx.redrawMoments();
        } catch (error) {
          mount(problem, h("p", { class: "error" }, messageOf(error)));
        }
      },
    },
    h("div", { class: "row" }, field(t("kind"), kind), field(t("direction"), direction), field(t("when"), occurred)),
    field(t("subject"), subject),
    field(t("notes"), notes),
    problem,
    h(
      "div",
      { class: "row" },
      h("button", { type: "submit", class: "primary" }, m ? t("save") : t("log_moment")),
      m ? h("button", { type: "button", onclick: () => ctx.redrawMoments() }, t("cancel")) : null,
    ),
  );
  return m ? form : h("details", { class: "day-add" }, h("summary", {}, t("log_moment")), form);
}
