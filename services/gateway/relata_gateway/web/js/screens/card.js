// The relation card: the view's tabs and fields, functions, the contact-moment timeline, the
// lists the relation is in and its history. Fields are edited in place (If-Match with the
// version read, so a colleague's change in between is refused with a clear message); a card
// updates by itself when the relation changes and shows when a colleague is editing it.

import { ApiError, get, post, query, request } from "../api.js";
import { field, flash, formatDate, h, mount, nextId } from "../dom.js";
import { fieldLabel, language, messageOf, t } from "../i18n.js";
import { listen } from "../live.js";
import { go } from "../router.js";
import { setCurrentView, viewById } from "../state.js";
import { editorFor, readValue, showValue } from "./fields.js";
import { cardButtons } from "./automation/buttons.js";

const SECTIONS = ["functions", "contact_moments", "lists", "history", "donations", "registrations", "properties"];
const PERSON_ONLY = ["first_name", "initials", "infix", "last_name", "salutation", "gender", "birth_date"];
const ORGANISATION_ONLY = ["organisation_name", "coc_number"];
const PRESENCE_REPEAT_MS = 10000;
const PRESENCE_POLL_MS = 20000;

export async function renderCard(main, { view: viewId, relation: relationId }) {
  const view = viewById(viewId);
  if (!view) throw Object.assign(new Error("not found"), { status: 404 });
  setCurrentView(viewId);
  const base = `/views/${viewId}/relations/${relationId}`;
  const [first, catalogue] = await Promise.all([request("GET", base), get(`/views/${viewId}/fields`)]);
  const types = new Map(catalogue.fields.map((f) => [f.name, f]));
  let card = first.data;
  let etag = first.etag;
  let selected = 0; // the open tab
  let editing = null; // { tab, values } while a tab is in edit mode
  let staleWhileEditing = false;
  let presenceTimer = null;
  const timers = [];
  // A label the view's form gives a field, in the UI language, before the usual one.
  const labelOf = (name, usual) => view.form.field_labels?.[name]?.[language()] || fieldLabel(name, usual);

  const presence = h("div", { id: "presence", "aria-live": "polite" });
  const message = h("div", { id: "card-message", role: "alert" });
  const head = h("div", { class: "card-head" });
  const tabs = h("div", { role: "tablist", "aria-label": t("card_tabs") });
  const panel = h("div", { role: "tabpanel", id: "card-panel", tabindex: "0" });

  function drawHead() {
    mount(
      head,
      h(
        "div",
        {},
        h("h1", { id: "card-title" }, card.display_name),
        h("span", { class: "badge" }, t(card.relation_type)),
        " ",
        h("span", { class: "badge" }, view.name),
        card.can_edit ? null : h("span", { class: "badge" }, " ", t("read_only")),
        card.unavailable.length
          ? h("p", { class: "notice" }, t("parts_unavailable", { parts: card.unavailable.map((p) => fieldLabel(p)).join(", ") }))
          : null,
      ),
      card.other_views.length
        ? field(
            t("switch_view"),
            h(
              "select",
              {
                id: "switch-view",
                onchange: (e) => e.target.value && go(`/views/${e.target.value}/relations/${relationId}`),
              },
              h("option", { value: "" }, view.name),
              card.other_views.map((v) => h("option", { value: v.view_id }, v.name)),
            ),
          )
        : null,
    );
  }

  // Tabs follow the WAI-ARIA pattern: arrow keys move between them, Tab goes into the panel.
  function drawTabs() {
    mount(
      tabs,
      view.form.tabs.map((tab, i) =>
        h(
          "button",
          {
            type: "button",
            role: "tab",
            id: `tab-${i}`,
            "aria-selected": String(i === selected),
            "aria-controls": "card-panel",
            tabindex: i === selected ? "0" : "-1",
            onclick: () => select(i),
            onkeydown: (event) => {
              const step = { ArrowRight: 1, ArrowLeft: -1 }[event.key];
              if (!step) return;
              const next = (i + step + view.form.tabs.length) % view.form.tabs.length;
              select(next);
              tabs.children[next].focus();
            },
          },
          tab.labels?.[language()] || tab.name,
        ),
      ),
    );
  }

  function select(i) {
    if (editing && editing.tab !== i && !confirm(t("leave_edit"))) return;
    if (editing && editing.tab !== i) stopEditing();
    selected = i;
    drawTabs();
    drawPanel();
  }

  function drawPanel() {
    const tab = view.form.tabs[selected];
    const values = (card.tabs[selected] || {}).fields || {};
    const plain = tab.fields.filter((name) => !SECTIONS.includes(name) && applies(name));
    const sections = tab.fields.filter((name) => SECTIONS.includes(name));
    panel.setAttribute("aria-labelledby", `tab-${selected}`);
    mount(
      panel,
      editing ? null : cardButtons(card, tab.name, base, () => reload()),
      plain.length ? (editing ? editForm(plain, values) : showFields(plain, values)) : null,
      sections.map((name) => section(name)),
    );
  }

  // A form serves persons and organisations alike; a card shows the fields of its own type.
  function applies(name) {
    if (card.relation_type === "person") return !ORGANISATION_ONLY.includes(name);
    return !PERSON_ONLY.includes(name);
  }

  function showFields(names, values) {
    return h(
      "div",
      {},
      h(
        "dl",
        { class: "fields" },
        names.map((name) => [h("dt", {}, labelOf(name, types.get(name)?.label)), h("dd", { "data-field": name }, showValue(name, values[name], t))]),
      ),
      card.can_edit
        ? h("p", {}, h("button", { type: "button", id: "edit", onclick: () => startEditing() }, t("edit")))
        : null,
    );
  }

  function editForm(names, values) {
    const spec = (name) => types.get(name) && { ...types.get(name), label: labelOf(name, types.get(name).label) };
    const editors = names.map((name) => ({ name, editor: editorFor(name, values[name], spec(name), t) }));
    return h(
      "form",
      {
        id: "edit-form",
        onsubmit: async (event) => {
          event.preventDefault();
          const changed = {};
          for (const { name, editor } of editors) {
            const value = readValue(editor);
            if (JSON.stringify(value ?? null) !== JSON.stringify(values[name] ?? null)) {
              if (name.startsWith("custom.")) {
                changed.custom = { ...(changed.custom || {}), [name.slice(7)]: value };
              } else {
                changed[name] = value;
              }
            }
          }
          if (Object.keys(changed).length === 0) return stopEditing(true);
          await save(changed);
        },
      },
      editors.map(({ editor }) => editor.node),
      h(
        "div",
        { class: "row" },
        h("button", { type: "submit", class: "primary", id: "save" }, t("save")),
        h("button", { type: "button", onclick: () => stopEditing(true) }, t("cancel")),
      ),
    );
  }

  async function save(changed) {
    mount(message);
    try {
      const answer = await request("PATCH", base, { fields: changed }, { ifMatch: etag });
      card = answer.data;
      etag = answer.etag;
      stopEditing(true);
      flash(t("saved"));
    } catch (error) {
      if (error instanceof ApiError && error.status === 412) {
        // Someone saved the relation after this card was read: nothing was saved. Keep what
        // the user typed on screen so it can be compared with the newer version.
        mount(
          message,
          h(
            "div",
            { class: "error" },
            h("strong", {}, t("conflict_title")),
            " ",
            t("conflict_text"),
            " ",
            h("button", { type: "button", onclick: () => reload(true) }, t("load_latest")),
          ),
        );
      } else if (error instanceof ApiError && error.status === 422) {
        const detail = Array.isArray(error.detail)
          ? error.detail.map((d) => `${(d.loc || []).slice(-2).join(" ")}: ${d.msg}`).join("; ")
          : String(error.message);
        mount(message, h("p", { class: "error" }, t("invalid"), " ", detail));
      } else {
        mount(message, h("p", { class: "error" }, messageOf(error)));
      }
    }
  }

  function startEditing() {
    editing = { tab: selected };
    staleWhileEditing = false;
    drawPanel();
    panel.querySelector("input, select, textarea")?.focus();
    // Tell colleagues, and keep telling while editing (the mark lapses otherwise).
    const mark = () => request("PUT", `${base}/presence`).catch(() => {});
    mark();
    presenceTimer = setInterval(mark, PRESENCE_REPEAT_MS);
  }

  function stopEditing(redraw = false) {
    if (!editing) return;
    editing = null;
    clearInterval(presenceTimer);
    request("DELETE", `${base}/presence`).catch(() => {});
    if (redraw) {
      drawHead();
      drawPanel();
    }
  }

  async function reload(leaveEdit = false) {
    const answer = await request("GET", base);
    card = answer.data;
    etag = answer.etag;
    if (leaveEdit) {
      stopEditing();
      mount(message);
    }
    drawHead();
    if (!editing) drawPanel();
  }

  // --- sections ------------------------------------------------------------------------------

  function section(name) {
    const id = nextId("section");
    const box = h("section", { class: "panel", "aria-labelledby": id, "data-section": name }, h("h2", { id }, labelOf(name)));
    const body = h("div", {}, h("p", { class: "muted" }, t("loading")));
    box.append(body);
    const loaders = { functions: functionsOf, contact_moments: timelineOf, history: historyOf, donations: donationsOf, registrations: registrationsOf };
    if (name === "lists") mount(body, listsOf());
    else if (name === "properties") mount(body, propertiesOf());
    else if (loaders[name]) {
      // A section whose service does not answer says so; the rest of the card stays usable.
      loaders[name](body).catch((error) => mount(body, h("p", { class: "error" }, messageOf(error))));
    } else mount(body, h("p", { class: "muted" }, t("kept_in_module")));
    return box;
  }

  function listsOf() {
    const lists = card.lists || [];
    return lists.length
      ? h(
          "ul",
          { class: "plain-list", id: "card-lists" },
          lists.map((l) => h("li", {}, h("a", { href: `#/views/${viewId}/lists/${l.list_id}` }, l.name === "All relations" ? t("all_relations") : l.name))),
        )
      : h("p", { class: "muted" }, t("in_no_lists"));
  }

  // Generated properties ("Active member"): what the relation is, not the data behind it.
  function propertiesOf() {
    if (card.properties === null || card.properties === undefined) return h("p", { class: "muted" }, t("not_available"));
    return card.properties.length
      ? h("ul", { class: "plain-list", id: "card-properties" }, card.properties.map((p) => h("li", {}, p.label)))
      : h("p", { class: "muted" }, t("no_properties"));
  }

  async function functionsOf(body) {
    const functions = await get(`${base}/functions`);
    mount(
      body,
      functions.length
        ? h(
            "ul",
            { class: "plain-list" },
            functions.map((f) => {
              // Held by this relation: "Director at Acme"; held at it: "Jan de Vries, Director".
              const held = f.subject_id === relationId;
              const [otherId, otherName] = held ? [f.object_id, f.object_name] : [f.subject_id, f.subject_name];
              const other = otherId
                ? h("a", { href: `#/views/${viewId}/relations/${otherId}` }, otherName)
                : h("span", { class: "muted" }, t("not_in_view"));
              const dates = h("span", { class: "muted" }, ` · ${f.start_date}${f.end_date ? ` – ${f.end_date}` : ""}`);
              return held
                ? h("li", {}, h("strong", {}, f.role_label), " ", t("at"), " ", other, dates)
                : h("li", {}, other, ", ", h("strong", {}, f.role_label), dates);
            }),
          )
        : h("p", { class: "muted" }, t("no_functions")),
    );
  }

  let timelineBody = null;
  async function timelineOf(body, cursor = null, items = []) {
    timelineBody = body;
    const page = await get(`${base}/contact-moments${query({ limit: 10, cursor })}`);
    const all = [...items, ...page.contact_moments];
    mount(
      body,
      card.can_edit ? momentForm(body) : null,
      all.length
        ? h(
            "ol",
            { class: "timeline", id: "timeline" },
            all.map((m) =>
              h(
                "li",
                {},
                h("strong", {}, m.subject),
                h(
                  "div",
                  { class: "muted" },
                  `${t(`moment_${m.kind}`)} · ${m.direction === "in" ? t("incoming") : t("outgoing")} · ${formatDate(m.occurred_at, language())}${m.logged_by ? ` · ${m.logged_by}` : ""}`,
                ),
                m.notes ? h("p", {}, m.notes) : null,
              ),
            ),
          )
        : h("p", { class: "muted" }, t("no_moments")),
      page.next ? h("button", { type: "button", onclick: () => timelineOf(body, page.next, all) }, t("older")) : null,
    );
  }

  // Donations, as the donations module published them: the card's summary, then the gifts.
  const money = (amount, currency) => `${currency} ${amount}`;
  async function donationsOf(body, after = null, items = []) {
    const summary = card.donations;
    if (!summary) return mount(body, h("p", { class: "muted" }, t("not_available")));
    if (!summary.count) return mount(body, h("p", { class: "muted" }, t("no_donations")));
    const page = await get(`${base}/donations${query({ limit: 20, after })}`);
    const all = [...items, ...page.donations];
    const gift = (g) => `${money(g.amount, g.currency)} · ${g.received_on}`;
    mount(
      body,
      h(
        "p",
        { id: "donation-summary" },
        `${summary.count} ${t("donations_count")} · ${summary.total.map((x) => money(x.amount, x.currency)).join(" + ")}`,
        h("br"),
        h("span", { class: "muted" }, `${t("first_gift")}: ${gift(summary.first_gift)} · ${t("last_gift")}: ${gift(summary.last_gift)}`),
      ),
      h(
        "ol",
        { class: "plain-list", id: "donations" },
        all.map((d) => h("li", {}, `${d.received_on} · ${money(d.amount, d.currency)}${d.campaign ? ` · ${d.campaign}` : ""}`)),
      ),
      page.next ? h("button", { type: "button", onclick: () => donationsOf(body, page.next, all) }, t("older")) : null,
    );
  }

  async function registrationsOf(body, after = null, items = []) {
    const page = await get(`${base}/registrations${query({ limit: 20, after })}`);
    const all = [...items, ...page.events];
    mount(
      body,
      all.length
        ? h(
            "ul",
            { class: "plain-list", id: "registrations" },
            all.map((e) =>
              h(
                "li",
                {},
                h("strong", {}, e.event_code),
                e.event_date ? ` · ${e.event_date}` : "",
                h("span", { class: "muted" }, ` · ${e.registrations.map((r) => t(`registration_${r.status}`)).join(", ")}`),
              ),
            ),
          )
        : h("p", { class: "muted" }, t("no_registrations")),
      page.next ? h("button", { type: "button", onclick: () => registrationsOf(body, page.next, all) }, t("older")) : null,
    );
  }

  function momentForm(body) {
    const now = new Date(Date.now() - new Date().getTimezoneOffset() * 60000).toISOString().slice(0, 16);
    const kind = h("select", { name: "kind" }, ["phone", "email", "visit", "letter", "meeting", "other"].map((k) => h("option", { value: k }, t(`moment_${k}`))));
    const direction = h("select", { name: "direction" }, h("option", { value: "in" }, t("incoming")), h("option", { value: "out" }, t("outgoing")));
    const subject = h("input", { name: "subject", required: true, maxlength: 300, size: 40 });
    const notes = h("textarea", { name: "notes", rows: 2, cols: 50 });
    const when = h("input", { name: "occurred_at", type: "datetime-local", value: now, required: true });
    return h(
      "details",
      {},
      h("summary", {}, t("log_moment")),
      h(
        "form",
        {
          id: "moment-form",
          onsubmit: async (event) => {
            event.preventDefault();
            try {
              await post(`${base}/contact-moments`, {
                kind: kind.value,
                direction: direction.value,
                subject: subject.value,
                notes: notes.value,
                occurred_at: new Date(when.value).toISOString(),
              });
              flash(t("moment_logged"));
              await timelineOf(body);
            } catch (error) {
              flash(messageOf(error));
            }
          },
        },
        h("div", { class: "row" }, field(t("kind"), kind), field(t("direction"), direction), field(t("when"), when)),
        field(t("subject"), subject),
        field(t("notes"), notes),
        h("button", { type: "submit", class: "primary" }, t("log_moment")),
      ),
    );
  }

  async function historyOf(body) {
    const entries = await get(`${base}/history${query({ limit: 20 })}`);
    mount(
      body,
      entries.length
        ? h(
            "table",
            { id: "history" },
            h("thead", {}, h("tr", {}, h("th", { scope: "col" }, t("when")), h("th", { scope: "col" }, t("who")), h("th", { scope: "col" }, t("what")))),
            h(
              "tbody",
              {},
              entries.map((e) =>
                h(
                  "tr",
                  {},
                  h("td", {}, formatDate(e.occurred_at, language())),
                  h("td", {}, e.actor_name || t(`actor_${e.actor_kind}`)),
                  h(
                    "td",
                    {},
                    e.kind === "relation.created" ? h("div", {}, t("created")) : null,
                    e.changes.map((c) => h("div", {}, h("strong", {}, fieldLabel(c.field)), `: ${summary(c.old)} → ${summary(c.new)}`)),
                  ),
                ),
              ),
            ),
          )
        : h("p", { class: "muted" }, t("no_history")),
    );
  }

  function summary(value) {
    if (value === null || value === undefined || value === "") return "—";
    if (Array.isArray(value)) return value.map((v) => (typeof v === "object" ? Object.values(v).filter(Boolean).join(" ") : v)).join("; ");
    if (typeof value === "object") return Object.values(value).filter(Boolean).join(" ");
    return String(value);
  }

  // --- colleagues editing ------------------------------------------------------------------------

  async function showPresence() {
    try {
      const answer = await get(`${base}/presence`);
      mount(
        presence,
        answer.editing.length
          ? h("p", { class: "notice", id: "colleague-editing" }, t("colleague_editing", { names: answer.editing.map((e) => e.display_name).join(", ") }))
          : null,
      );
    } catch {
      /* presence is a courtesy: the card works without it */
    }
  }

  mount(main, head, presence, message, tabs, panel);
  drawHead();
  drawTabs();
  drawPanel();
  showPresence();
  timers.push(setInterval(showPresence, PRESENCE_POLL_MS));

  const stop = listen(viewId, async (type, data) => {
    if (type === "presence" && data.relation_id === relationId) return showPresence();
    if (type === "contact_moments" && data.relation_ids.includes(relationId) && timelineBody) return timelineOf(timelineBody);
    const mine = (type === "relation" || type === "membership") && data.relation_id === relationId;
    if (!mine || (type === "relation" && data.by_me)) return;
    if (editing) {
      if (!staleWhileEditing) {
        staleWhileEditing = true;
        mount(message, h("p", { class: "notice" }, t("changed_while_editing")));
      }
      return;
    }
    try {
      await reload();
      if (type === "relation") flash(t("card_updated"));
    } catch (error) {
      if (error.status === 404) mount(message, h("p", { class: "notice" }, t("left_view")));
    }
  });
  const leave = () => stopEditing();
  window.addEventListener("beforeunload", leave);
  return () => {
    stop();
    timers.forEach(clearInterval);
    window.removeEventListener("beforeunload", leave);
    stopEditing();
  };
}
