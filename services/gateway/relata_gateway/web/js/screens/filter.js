// The filter builder, drawn from the view's field catalogue: groups of criteria joined by
// "all" (and) or "any" (or), nested as deep as needed, each criterion optionally negated.
// Every change re-counts the matching relations (debounced); the filter can be saved as a list,
// and a saved list opens here for editing (its filter drawn back into the tree, its name).

import { ApiError, get, post, query, request } from "../api.js";
import { debounce, field, flash, h, mount, nextId } from "../dom.js";
import { fieldLabel, messageOf, t } from "../i18n.js";
import { go } from "../router.js";
import { reloadViews, setCurrentView, viewById } from "../state.js";
import "./lists/words.js";

const UNITS = ["days", "weeks", "months", "years"];
const CONTACT_KINDS = ["phone", "email", "visit", "letter", "meeting", "other"];
const RELATIVE = ["within_last", "more_than_ago", "less_than_ago"];
// A donation condition's period: ever (the default: who gave at all), the last years, or a
// period of one's own.
const DONATION_PERIODS = ["ever", "1", "2", "5", "custom"];

export async function renderFilter(main, { view: viewId, list: listId }) {
  const view = viewById(viewId);
  if (!view) throw Object.assign(new Error("not found"), { status: 404 });
  setCurrentView(viewId);
  const [catalogue, editing] = await Promise.all([
    get(`/views/${viewId}/fields`),
    listId ? request("GET", `/views/${viewId}/lists/${listId}`) : null,
  ]);
  const fields = new Map(catalogue.fields.map((f) => [f.name, f]));
  const root = editing ? rootOf(editing.data.filter) : group("all");
  const tree = h("div", { id: "filter-tree" });
  const count = h("p", { class: "count", id: "filter-count", "aria-live": "polite" }, "…");
  const preview = h("div", {});
  const problem = h("div", { role: "alert" });

  function group(combinator) {
    return { type: "group", combinator, negate: false, children: [] };
  }

  function criterion(kind) {
    const first = catalogue.fields.find((f) => f.name === "city") || catalogue.fields[0];
    const base = { type: "criterion", kind, negate: false };
    if (kind === "field") {
      return { ...base, field: first.name, shownField: first.name, op: first.operators[0], value: "" };
    }
    if (kind === "function") return { ...base, role: "", at_list: "", active: true };
    if (kind === "contact") return { ...base, contact_kinds: [], direction: "", amount: 90, unit: "days" };
    if (kind === "donations") return { ...base, period: "ever", amount: 5, unit: "years", total_at_least: "", min_count: 1 };
    if (kind === "registration") return { ...base, event_code: "" };
    return { ...base, list_id: catalogue.lists[0]?.list_id || "" };
  }

  // --- the tree as the API's filter ---------------------------------------------------------

  function toFilter(node) {
    let out = null;
    if (node.type === "group") {
      const children = node.children.map(toFilter).filter(Boolean);
      if (children.length) out = { [node.combinator]: children };
    } else {
      out = criterionFilter(node);
    }
    return out && node.negate ? { not: out } : out;
  }

  function criterionFilter(c) {
    if (c.kind === "field") {
      const value = fieldValue(c);
      // A criterion still being typed is left out of the count rather than matching nothing.
      const unfinished = value === "" || (Array.isArray(value) && value.some((v) => v === ""));
      return unfinished ? null : { kind: "field", field: c.field, op: c.op, value };
    }
    if (c.kind === "function") {
      return { ...c.keep, kind: "function", role: c.role || null, at_list: c.at_list || null, active: c.active };
    }
    if (c.kind === "contact") {
      return {
        ...c.keep,
        kind: "contact",
        contact_kinds: c.contact_kinds,
        direction: c.direction || null,
        within_last: c.amount ? { amount: Number(c.amount), unit: c.unit } : null,
      };
    }
    if (c.kind === "donations") {
      return {
        ...c.keep,
        kind: "donations",
        within_last: donationPeriod(c),
        total_at_least: c.total_at_least === "" || c.total_at_least === null ? null : String(c.total_at_least),
        min_count: c.min_count ? Number(c.min_count) : null,
      };
    }
    if (c.kind === "registration") return c.event_code ? { ...c.keep, kind: "registration", event_code: c.event_code } : null;
    return c.list_id ? { kind: "in_list", list_id: c.list_id } : null;
  }

  function donationPeriod(c) {
    if (c.period === "ever") return null;
    if (c.period === "custom") return c.amount ? { amount: Number(c.amount), unit: c.unit } : null;
    return { amount: Number(c.period), unit: "years" };
  }

  // --- a saved filter back into the tree (editing a list) ---------------------------------------

  function rootOf(filter) {
    if (!filter || !Object.keys(filter).length) return group("all");
    const node = fromFilter(filter);
    if (node.type === "group") return node;
    const top = group("all");
    top.children.push(node);
    return top;
  }

  function fromFilter(node) {
    if (node.not) {
      const inner = fromFilter(node.not);
      inner.negate = !inner.negate;
      return inner;
    }
    if (node.all || node.any) {
      const out = group(node.all ? "all" : "any");
      out.children = (node.all || node.any).map(fromFilter);
      return out;
    }
    return fromCriterion(node);
  }

  function fromCriterion(f) {
    const base = { type: "criterion", kind: f.kind, negate: false };
    if (f.kind === "field") {
      const c = { ...base, field: f.field, shownField: f.field, op: f.op, value: "" };
      const v = f.value;
      if (RELATIVE.includes(f.op) && v && typeof v === "object") return { ...c, amount: v.amount, unit: v.unit };
      if (f.op === "between" && Array.isArray(v)) return { ...c, value: String(v[0] ?? ""), value2: String(v[1] ?? "") };
      if (f.op === "in" && Array.isArray(v)) return { ...c, value: v.join(", ") };
      return { ...c, value: v === null || v === undefined ? "" : String(v) };
    }
    const { kind, within_last: period, ...rest } = f;
    if (f.kind === "function") {
      const { role, at_list: atList, active, ...keep } = rest;
      return { ...base, role: role || "", at_list: atList || "", active: active !== false, keep };
    }
    if (f.kind === "contact") {
      const { contact_kinds: kinds, direction, ...keep } = rest;
      return { ...base, contact_kinds: kinds || [], direction: direction || "", amount: period ? period.amount : "", unit: period ? period.unit : "days", keep };
    }
    if (f.kind === "donations") {
      const { total_at_least: total, min_count: minCount, ...keep } = rest;
      const years = period && period.unit === "years" && ["1", "2", "5"].includes(String(period.amount));
      return {
        ...base,
        period: !period ? "ever" : years ? String(period.amount) : "custom",
        amount: period ? period.amount : 5,
        unit: period ? period.unit : "years",
        total_at_least: total ?? "",
        min_count: minCount ?? "",
        keep,
      };
    }
    if (f.kind === "registration") {
      const { event_code: code, ...keep } = rest;
      return { ...base, event_code: code || "", keep };
    }
    return { ...base, list_id: f.list_id || "" };
  }

  function fieldValue(c) {
    const spec = fields.get(c.field);
    if (c.op === "empty" || c.op === "not_empty") return null;
    if (RELATIVE.includes(c.op)) return { amount: Number(c.amount || 0), unit: c.unit || "days" };
    const one = (raw) => {
      if (!spec) return raw;
      if (spec.type === "number" || spec.type === "money") return raw === "" ? raw : Number(raw);
      if (spec.type === "boolean") return raw === "true" || raw === true;
      return raw;
    };
    if (c.op === "between") return [one(c.value ?? ""), one(c.value2 ?? "")];
    if (c.op === "in") return String(c.value).split(",").map((v) => one(v.trim())).filter((v) => v !== "");
    return one(c.value);
  }

  // --- drawing ---------------------------------------------------------------------------------

  function redraw() {
    mount(tree, drawGroup(root, null, 0));
    recount();
  }

  function drawGroup(node, parent, depth) {
    const id = nextId("group");
    return h(
      "fieldset",
      { class: "group", "aria-labelledby": id },
      h(
        "legend",
        { id },
        depth === 0 ? t("relations_that") : t("group"),
      ),
      h(
        "div",
        { class: "row" },
        field(
          t("match"),
          h(
            "select",
            { class: "combinator", onchange: (e) => ((node.combinator = e.target.value), redraw()) },
            h("option", { value: "all", selected: node.combinator === "all" }, t("all_of")),
            h("option", { value: "any", selected: node.combinator === "any" }, t("any_of")),
          ),
        ),
        negateBox(node),
        parent
          ? h("button", { type: "button", onclick: () => remove(parent, node) }, t("remove_group"))
          : null,
      ),
      node.children.map((child) =>
        child.type === "group" ? drawGroup(child, node, depth + 1) : drawCriterion(child, node),
      ),
      h(
        "div",
        { class: "row" },
        field(
          t("add_criterion"),
          h(
            "select",
            {
              class: "add-criterion",
              onchange: (e) => {
                if (!e.target.value) return;
                node.children.push(criterion(e.target.value));
                redraw();
              },
            },
            h("option", { value: "" }, "—"),
            h("option", { value: "field" }, t("kind_field")),
            catalogue.criteria.map((kind) => h("option", { value: kind }, t(`kind_${kind}`))),
          ),
        ),
        h(
          "button",
          { type: "button", onclick: () => (node.children.push(group(node.combinator === "all" ? "any" : "all")), redraw()) },
          t("add_group"),
        ),
      ),
    );
  }

  function negateBox(node) {
    return h(
      "label",
      { class: "field" },
      h("input", { type: "checkbox", checked: node.negate, onchange: (e) => ((node.negate = e.target.checked), recount()) }),
      " ",
      t("not"),
    );
  }

  function remove(parent, node) {
    parent.children.splice(parent.children.indexOf(node), 1);
    redraw();
  }

  // An input bound to a criterion's property: typing re-counts, it does not redraw (focus stays).
  function bound(c, key, attrs = {}) {
    return h("input", { ...attrs, value: c[key] ?? "", oninput: (e) => ((c[key] = e.target.value), recount()) });
  }

  function choice(c, key, options, { redrawOnChange = false } = {}) {
    return h(
      "select",
      {
        onchange: (e) => {
          c[key] = e.target.value;
          redrawOnChange ? redraw() : recount();
        },
      },
      options.map(([value, label]) => h("option", { value, selected: String(c[key]) === String(value) }, label)),
    );
  }

  function periodInputs(c) {
    return [
      field(t("lst_how_many"), bound(c, "amount", { type: "number", min: 0, size: 5 })),
      field(t("unit"), choice(c, "unit", UNITS.map((u) => [u, t(u)]))),
    ];
  }

  function drawCriterion(c, parent) {
    return h(
      "div",
      { class: "criterion", role: "group", "aria-label": t(`kind_${c.kind}`) },
      h("span", { class: "badge" }, t(`kind_${c.kind}`)),
      editorOf(c),
      negateBox(c),
      h("button", { type: "button", "aria-label": t("remove_criterion"), onclick: () => remove(parent, c) }, "✕"),
    );
  }

  function editorOf(c) {
    if (c.kind === "field") {
      const spec = fields.get(c.field);
      const ops = spec ? spec.operators : [];
      if (c.shownField !== c.field) {
        // Another field: a value typed for the previous one would not fit.
        Object.assign(c, { shownField: c.field, value: "", value2: "" });
      }
      if (!ops.includes(c.op)) c.op = ops[0];
      return [
        field(
          t("field"),
          choice(c, "field", catalogue.fields.map((f) => [f.name, fieldLabel(f.name, f.label)]), { redrawOnChange: true }),
        ),
        field(t("operator"), choice(c, "op", ops.map((op) => [op, t(`op_${op}`)]), { redrawOnChange: true })),
        valueInputs(c, spec),
      ];
    }
    if (c.kind === "function") {
      return [
        field(t("role"), choice(c, "role", [["", t("any_role")], ...catalogue.roles.map((r) => [r.code, r.label])])),
        field(t("at_list"), choice(c, "at_list", [["", t("anywhere")], ...catalogue.lists.map((l) => [l.list_id, l.name])])),
        h("label", { class: "field" }, h("input", { type: "checkbox", checked: c.active, onchange: (e) => ((c.active = e.target.checked), recount()) }), " ", t("active_now")),
      ];
    }
    if (c.kind === "contact") {
      return [
        h(
          "fieldset",
          {},
          h("legend", {}, t("contact_kinds")),
          CONTACT_KINDS.map((kind) =>
            h(
              "label",
              { style: "display:inline-block;margin-right:.5rem" },
              h("input", {
                type: "checkbox",
                checked: c.contact_kinds.includes(kind),
                onchange: (e) => {
                  c.contact_kinds = e.target.checked ? [...c.contact_kinds, kind] : c.contact_kinds.filter((k) => k !== kind);
                  recount();
                },
              }),
              " ",
              t(`moment_${kind}`),
            ),
          ),
        ),
        field(t("direction"), choice(c, "direction", [["", t("either")], ["in", t("incoming")], ["out", t("outgoing")]])),
        h("span", { class: "muted" }, t("within_last")),
        periodInputs(c),
      ];
    }
    if (c.kind === "donations") {
      return [
        field(t("lst_donation_total"), bound(c, "total_at_least", { type: "number", min: 0, step: "0.01", size: 8, class: "lst-money" })),
        field(t("lst_donation_count"), bound(c, "min_count", { type: "number", min: 1, size: 4 })),
        field(
          t("lst_donation_period"),
          choice(c, "period", DONATION_PERIODS.map((p) => [p, t(`lst_period_${p}`)]), { redrawOnChange: true }),
        ),
        c.period === "custom" ? [h("span", { class: "muted" }, t("within_last")), periodInputs(c)] : null,
      ];
    }
    if (c.kind === "registration") return field(t("event_code"), bound(c, "event_code"));
    return field(t("list"), choice(c, "list_id", catalogue.lists.map((l) => [l.list_id, l.name])));
  }

  function valueInputs(c, spec) {
    if (!spec || c.op === "empty" || c.op === "not_empty") return null;
    if (RELATIVE.includes(c.op)) {
      if (c.amount === undefined) c.amount = 1;
      if (c.unit === undefined) c.unit = "years";
      return periodInputs(c);
    }
    const type = { date: "date", datetime: "date", number: "number", money: "number" }[spec.type] || "text";
    if (spec.type === "boolean") {
      if (c.value === "") c.value = "true";
      return field(t("value"), choice(c, "value", [["true", t("yes")], ["false", t("no")]]));
    }
    if (spec.type === "choice" && spec.choices.length && c.op !== "in") {
      if (!spec.choices.includes(c.value)) c.value = spec.choices[0];
      return field(t("value"), choice(c, "value", spec.choices.map((v) => [v, t(v)])));
    }
    if (c.op === "between") {
      return [field(t("from"), bound(c, "value", { type })), field(t("to"), bound(c, "value2", { type }))];
    }
    return field(
      c.op === "in" ? t("values_commas") : t("value"),
      bound(c, "value", { type: c.op === "in" ? "text" : type, class: "value", size: 14 }),
    );
  }

  // --- counting and saving ----------------------------------------------------------------------

  let asked = 0;
  const recount = debounce(async () => {
    const filter = toFilter(root);
    const ask = ++asked;
    mount(problem);
    if (!filter) {
      count.textContent = t("add_a_criterion");
      mount(preview);
      return;
    }
    try {
      const answer = await post(`/views/${viewId}/evaluate${query({ limit: 10 })}`, { filter });
      if (ask !== asked) return;
      count.textContent = t("count_relations", { count: answer.count });
      mount(
        preview,
        answer.too_large
          ? h("p", { class: "muted" }, t("too_large"))
          : h(
              "ul",
              { class: "plain-list" },
              answer.relations.map((r) => h("li", {}, h("a", { href: `#/views/${viewId}/relations/${r.relation_id}` }, r.display_name))),
              answer.count > answer.relations.length ? h("li", { class: "muted" }, "…") : null,
            ),
      );
    } catch (error) {
      if (ask !== asked) return;
      count.textContent = "—";
      const detail = error instanceof ApiError && Array.isArray(error.detail)
        ? error.detail.map((d) => d.msg).join("; ")
        : messageOf(error);
      mount(problem, h("p", { class: "error" }, t("filter_incomplete"), " ", detail));
    }
  }, 350);

  const name = h("input", { id: "list-name", required: true, value: editing ? editing.data.name : "" });
  let etag = editing ? editing.etag : null;
  const save = view.can_edit
    ? h(
        "form",
        {
          class: "row",
          onsubmit: async (event) => {
            event.preventDefault();
            const filter = toFilter(root);
            if (!filter) return;
            try {
              if (editing) {
                // If-Match: a colleague's change to the list in between is refused, not lost.
                const answer = await request("PATCH", `/views/${viewId}/lists/${listId}`, { name: name.value, filter }, { ifMatch: etag });
                etag = answer.etag || etag;
              }
              const saved = editing ? { list_id: listId } : await post(`/views/${viewId}/lists`, { name: name.value, filter });
              await reloadViews();
              flash(editing ? t("lst_changes_saved") : t("list_saved"));
              go(`/views/${viewId}/lists/${saved.list_id}`);
            } catch (error) {
              mount(problem, h("p", { class: "error" }, messageOf(error)));
            }
          },
        },
        field(t("list_name"), name),
        h("button", { type: "submit", class: "primary" }, editing ? t("lst_save_changes") : t("save_as_list")),
        editing ? h("a", { class: "button", href: `#/views/${viewId}/lists/${listId}` }, t("cancel")) : null,
      )
    : h("p", { class: "muted" }, t("read_only_view"));

  if (!editing) root.children.push(criterion("field"));
  mount(
    main,
    h(
      "h1",
      {},
      editing ? t("lst_editing_title", { name: editing.data.name }) : t("filter_builder"),
      " ",
      h("span", { class: "badge" }, view.name),
    ),
    h(
      "div",
      { class: "grid-2", style: "grid-template-columns: 2fr 1fr" },
      h("section", { "aria-label": t("criteria") }, tree),
      h("section", { class: "panel", "aria-labelledby": "result-title" }, h("h2", { id: "result-title" }, t("result")), count, problem, preview, save),
    ),
  );
  redraw();
  return null;
}
