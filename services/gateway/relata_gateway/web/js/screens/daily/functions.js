// Functions on the card, from both sides: what this relation holds elsewhere ("Director at
// Acme") and what is held at it ("Jan de Vries: Director"). Add one from the role catalogue,
// change its dates, end it, or remove one entered by mistake.

import { debounce, field, flash, h, mount, nextId } from "../../dom.js";
import { get, query, request } from "../../api.js";
import { messageOf, t } from "../../i18n.js";
import { day, today } from "../../format.js";
import "./words.js";

let roles = null; // the catalogue, read once

export async function functionsSection(body, ctx) {
  roles = roles || (await get("/roles/functions"));
  const functions = await get(`${ctx.base}/functions`);
  const mine = functions.filter((f) => f.subject_id === ctx.relationId);
  const here = functions.filter((f) => f.subject_id !== ctx.relationId);
  const redraw = () => functionsSection(body, ctx).catch((error) => flash(messageOf(error)));
  const group = (title, items, held) =>
    items.length
      ? [h("h3", {}, title), h("ul", { class: "plain-list day-functions" }, items.map((f) => functionItem(f, held, ctx, redraw)))]
      : null;
  mount(
    body,
    functions.length ? null : h("p", { class: "muted" }, t("no_functions")),
    group(t("day_holds"), mine, true),
    group(t("day_held_here"), here, false),
    ctx.card.can_edit ? addForm(ctx, redraw) : null,
  );
}

function functionItem(f, held, ctx, redraw) {
  const [otherId, otherName] = held ? [f.object_id, f.object_name] : [f.subject_id, f.subject_name];
  const other = otherId
    ? h("a", { href: `#/views/${ctx.viewId}/relations/${otherId}` }, otherName)
    : h("span", { class: "muted" }, t("not_in_view"));
  const role = h("strong", {}, f.role_label);
  const dates = f.end_date
    ? t("day_from_to", { from: day(f.start_date), to: day(f.end_date) })
    : t("day_since", { date: day(f.start_date) });
  // A function whose last day has come is ended, though the service counts today in.
  const ended = !f.active || Boolean(f.end_date && f.end_date <= today());
  const item = h(
    "li",
    { "data-function": f.function_id },
    held ? [role, ` ${t("at")} `, other] : [other, ": ", role],
    h("span", { class: "muted" }, ` · ${dates}`),
    " ",
    h("span", { class: "badge" }, ended ? t("day_ended") : t("day_active")),
  );
  if (!ctx.card.can_edit) return item;
  const path = `/views/${ctx.viewId}/functions/${f.function_id}`;
  const act = async (method, suffix, body, done) => {
    try {
      await request(method, `${path}${suffix}`, body);
      flash(t(done));
      await redraw();
    } catch (error) {
      flash(messageOf(error));
    }
  };
  const datesForm = () => {
    const start = h("input", { type: "date", value: f.start_date, required: true });
    const end = h("input", { type: "date", value: f.end_date || "" });
    return h(
      "form",
      {
        class: "row day-inline",
        onsubmit: (event) => {
          event.preventDefault();
          act("PATCH", "", { start_date: start.value, end_date: end.value || null }, "day_function_changed");
        },
      },
      field(t("day_start_date"), start),
      field(t("day_end_date"), end),
      h("button", { type: "submit", class: "primary" }, t("save")),
      h("button", { type: "button", onclick: () => redraw() }, t("cancel")),
    );
  };
  item.append(
    h(
      "div",
      { class: "row day-actions" },
      h("button", { type: "button", onclick: () => {
            mount(item, h("div", {}, h("strong", {}, f.role_label), " · ", otherName || t("not_in_view")), datesForm());
            item.querySelector("input").focus();
          },
        }, t("day_change_dates"), h("span", { class: "visually-hidden" }, ` ${f.role_label}`)),
      ended ? null : h("button", { type: "button", onclick: () => act("POST", "/end", {}, "day_function_ended") }, t("day_end"), h("span", { class: "visually-hidden" }, ` ${f.role_label}`)),
      h(
        "button",
        { type: "button", onclick: () => confirm(t("day_remove_confirm")) && act("DELETE", "", undefined, "day_function_removed") },
        t("remove"),
        h("span", { class: "visually-hidden" }, ` ${f.role_label}`),
      ),
    ),
  );
  return item;
}

// A role this relation can hold (it is the subject) or that can be held at it (the object):
// the two kinds are offered in their own groups.
function addForm(ctx, redraw) {
  const type = ctx.card.relation_type;
  const holds = roles.filter((r) => r.subject_types.includes(type));
  const heldHere = roles.filter((r) => r.object_types.includes(type));
  const role = h(
    "select",
    { name: "role", required: true },
    holds.length ? h("optgroup", { label: t("day_holds") }, holds.map((r) => h("option", { value: `holds:${r.code}` }, r.label))) : null,
    heldHere.length ? h("optgroup", { label: t("day_held_here") }, heldHere.map((r) => h("option", { value: `here:${r.code}` }, r.label))) : null,
  );
  const start = h("input", { type: "date", name: "start_date", value: today(), required: true });
  const end = h("input", { type: "date", name: "end_date" });
  const problem = h("div", { role: "alert" });
  const picker = relationPicker(ctx);
  const otherCaption = h("span", {}, t("day_at_relation"));
  const side = () => role.value.split(":")[0];
  role.addEventListener("change", () => {
    otherCaption.textContent = side() === "holds" ? t("day_at_relation") : t("day_holder");
  });
  return h(
    "details",
    { class: "day-add" },
    h("summary", {}, t("day_add_function")),
    h(
      "form",
      {
        id: "function-form",
        onsubmit: async (event) => {
          event.preventDefault();
          mount(problem);
          const other = picker.chosen();
          if (!other) return mount(problem, h("p", { class: "error" }, t("day_pick_relation")));
          const [where, code] = role.value.split(":");
          const [holder, at] = where === "holds" ? [ctx.relationId, other] : [other, ctx.relationId];
          try {
            await request("POST", `/views/${ctx.viewId}/relations/${holder}/functions`, {
              role: code,
              object_id: at,
              start_date: start.value,
              end_date: end.value || null,
            });
            flash(t("day_function_added"));
            await redraw();
          } catch (error) {
            mount(problem, h("p", { class: "error" }, messageOf(error)));
          }
        },
      },
      h("div", { class: "row" }, field(t("day_role"), role), field(t("day_start_date"), start), field(t("day_end_date"), end)),
      h("div", { class: "field" }, otherCaption, picker.node),
      problem,
      h("button", { type: "submit", class: "primary" }, t("day_add_function")),
    ),
  );
}

/** Search a relation of the view and pick one (radio buttons: one choice, by keyboard too). */
function relationPicker(ctx) {
  const id = nextId("pick");
  const input = h("input", { type: "search", id, "aria-label": t("day_search_relation"), placeholder: t("day_search_relation"), autocomplete: "off" });
  const choices = h("div", { role: "radiogroup", "aria-label": t("day_search_relation"), class: "day-choices" });
  let asked = 0;
  const search = debounce(async () => {
    const q = input.value.trim();
    const ask = ++asked;
    if (!q) return mount(choices);
    const hits = (await get(`/views/${ctx.viewId}/search${query({ q, limit: 8 })}`)).filter((hit) => hit.relation_id !== ctx.relationId);
    if (ask !== asked) return;
    mount(
      choices,
      hits.length
        ? hits.map((hit, i) =>
            h(
              "label",
              { class: "day-choice" },
              h("input", { type: "radio", name: id, value: hit.relation_id, checked: i === 0 && hits.length === 1 }),
              " ",
              hit.display_name,
              hitDetail(hit) ? h("span", { class: "muted" }, ` · ${hitDetail(hit)}`) : null,
            ),
          )
        : h("p", { class: "muted" }, t("no_results")),
    );
  }, 250);
  input.addEventListener("input", search);
  return {
    node: h("div", {}, input, choices),
    chosen: () => choices.querySelector("input:checked")?.value || null,
  };
}

/** What tells namesakes apart in a search hit: city, e-mail, relation number. */
export function hitDetail(hit) {
  return [hit.city, hit.email, hit.relation_number ? t("day_hit_number", { number: hit.relation_number }) : null].filter(Boolean).join(" · ");
}
