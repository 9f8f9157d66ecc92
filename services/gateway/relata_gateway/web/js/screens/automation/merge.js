// Merging two relations side by side: which one stays, per differing field which value stays
// (a radio group per field, "keep both" for addresses, phones and e-mails), a preview of the
// result, then the merge. The merge screen afterwards tells what was chosen and undoes it.

import { get, post, query, request } from "../../api.js";
import { flash, h, mount, nextId } from "../../dom.js";
import { fieldLabel, t } from "../../i18n.js";
import { go } from "../../router.js";
import { setCurrentView, viewById } from "../../state.js";
import { RIGHTS, asText, can, problem, requireRight } from "./common.js";
import { compareTable } from "./duplicates.js";

function viewOf(viewId) {
  const view = viewById(viewId);
  if (!view) throw Object.assign(new Error("not found"), { status: 404 });
  setCurrentView(viewId);
  return view;
}

/** A pair from the review queue: merged through the queue, which closes the pair. */
export async function renderPairMerge(main, { view: viewId, pair: pairId }) {
  requireRight(RIGHTS.review);
  requireRight(RIGHTS.merge);
  viewOf(viewId);
  const pair = await get(`/views/${viewId}/duplicates/${pairId}`);
  await mergeScreen(main, viewId, pair.relations, {
    back: `/views/${viewId}/duplicates`,
    merge: async (survivorId, _mergedId, choices) =>
      (await post(`/views/${viewId}/duplicates/${pairId}/decision`, { decision: "merge", survivor_id: survivorId, choices })).merge_id,
  });
}

/** Any two relations of the view (from a card or a link). */
export async function renderMerge(main, { view: viewId, first, second }) {
  requireRight(RIGHTS.merge);
  const view = viewOf(viewId);
  const cards = await Promise.all([first, second].map((id) => get(`/views/${viewId}/relations/${id}`)));
  const relations = cards.map((card) => ({
    relation_id: card.relation_id,
    display_name: card.display_name,
    relation_number: null,
    fields: Object.assign({}, ...card.tabs.map((tab) => tab.fields || {})),
  }));
  await mergeScreen(main, viewId, relations, {
    back: `/views/${view.view_id}/relations/${first}`,
    merge: async (survivorId, mergedId, choices, preview) =>
      (
        await post(`/views/${viewId}/merges`, {
          survivor_id: survivorId,
          merged_id: mergedId,
          choices,
          survivor_version: preview.survivor_version,
          merged_version: preview.merged_version,
        })
      ).merge_id,
  });
}

async function mergeScreen(main, viewId, relations, { back, merge }) {
  const byId = new Map(relations.map((r) => [r.relation_id, r]));
  let survivorId = relations[0].relation_id;
  let preview = null;
  const choices = {};
  const message = h("div", {});
  const differences = h("div", { id: "merge-choices" });
  const result = h("div", { id: "merge-preview", "aria-live": "polite" });
  const names = Object.keys(Object.assign({}, ...relations.map((r) => r.fields)));

  const survivorGroup = h(
    "fieldset",
    { id: "merge-survivor" },
    h("legend", {}, t("auto_survivor")),
    relations.map((r) => {
      const id = nextId("survivor");
      return h(
        "div",
        { class: "auto-radio" },
        h("input", {
          type: "radio", name: "survivor", id, value: r.relation_id, checked: r.relation_id === survivorId,
          onchange: () => {
            survivorId = r.relation_id;
            loadPreview();
          },
        }),
        h("label", { for: id }, t("auto_keeps", { name: r.display_name })),
      );
    }),
  );

  const otherId = () => relations.find((r) => r.relation_id !== survivorId).relation_id;

  async function loadPreview() {
    mount(message);
    for (const key of Object.keys(choices)) delete choices[key];
    try {
      preview = await get(`/views/${viewId}/merges/preview${query({ survivor_id: survivorId, merged_id: otherId() })}`);
    } catch (error) {
      preview = null;
      mount(differences);
      mount(result);
      mount(message, problem(error));
      return;
    }
    for (const d of preview.differences) choices[d.field] = d.default;
    drawChoices();
    drawResult();
  }

  function drawChoices() {
    const survivor = byId.get(survivorId);
    const merged = byId.get(otherId());
    if (!preview.differences.length) return mount(differences, h("p", { class: "muted" }, t("auto_no_differences")));
    mount(
      differences,
      h("h2", {}, t("auto_choose_values")),
      preview.differences.map((d) => {
        const options = [
          ["survivor", `${asText(d.survivor)} — ${t("auto_keep_survivor", { name: survivor.display_name })}`],
          ["merged", `${asText(d.merged)} — ${t("auto_keep_survivor", { name: merged.display_name })}`],
          d.can_keep_both ? ["both", t("auto_keep_both")] : null,
        ].filter(Boolean);
        const group = `choice-${d.field}`;
        return h(
          "fieldset",
          { class: "auto-choice", "data-field": d.field },
          h("legend", {}, fieldLabel(d.field)),
          options.map(([value, text]) => {
            const id = nextId("choice");
            return h(
              "div",
              { class: "auto-radio" },
              h("input", {
                type: "radio", name: group, id, value, checked: choices[d.field] === value,
                onchange: () => {
                  choices[d.field] = value;
                  drawResult();
                },
              }),
              h("label", { for: id }, text),
            );
          }),
        );
      }),
    );
  }

  function drawResult() {
    const survivor = byId.get(survivorId);
    const chosen = new Map(preview.differences.map((d) => [d.field, d]));
    const valueOf = (name) => {
      const d = chosen.get(name);
      if (!d) return survivor.fields[name] ?? byId.get(otherId()).fields[name];
      if (choices[name] === "merged") return d.merged;
      if (choices[name] === "both") return [...(d.survivor || []), ...(d.merged || [])];
      return d.survivor;
    };
    mount(
      result,
      h("h2", {}, t("auto_preview")),
      h("dl", { class: "fields" }, names.map((name) => [h("dt", {}, fieldLabel(name)), h("dd", { "data-field": name }, asText(valueOf(name)))])),
      h(
        "div",
        { class: "row" },
        h("button", { type: "button", class: "primary", id: "merge-now", onclick: doMerge }, t("auto_merge_now")),
        h("a", { class: "button", href: `#${back}` }, t("cancel")),
      ),
    );
  }

  async function doMerge() {
    try {
      const mergeId = await merge(survivorId, otherId(), { ...choices }, preview);
      flash(t("auto_merged"));
      go(`/views/${viewId}/merges/${mergeId}`);
    } catch (error) {
      mount(message, problem(error));
    }
  }

  mount(
    main,
    h("h1", {}, t("auto_merge_title"), ": ", relations.map((r) => r.display_name).join(" + ")),
    compareTable(viewId, relations, names),
    survivorGroup,
    message,
    h("div", { class: "grid-2" }, differences, result),
  );
  await loadPreview();
}

/** A merge: who stayed, which values were chosen, and undoing it. */
export async function renderMergeResult(main, { view: viewId, merge: mergeId }) {
  requireRight(RIGHTS.merge);
  const view = viewOf(viewId);
  const merge = await get(`/views/${viewId}/merges/${mergeId}`);
  const message = h("div", { role: "status" });
  const names = await Promise.all(
    [merge.survivor_id, merge.merged_id].map((id) =>
      request("GET", `/views/${viewId}/relations/${id}`).then((a) => a.data.display_name, () => null),
    ),
  );
  const cardLink = (id, name) => h("a", { href: `#/views/${viewId}/relations/${id}` }, name || t("auto_open_card"));
  const undo = h("button", { type: "button", class: "primary", id: "undo-merge", onclick: doUndo }, t("auto_undo_merge"));

  async function doUndo() {
    try {
      const undone = await post(`/views/${viewId}/merges/${mergeId}/undo`);
      undo.remove();
      mount(
        message,
        h("p", { class: "ok" }, t("auto_undone"), " ", cardLink(undone.survivor.relation_id, undone.survivor.display_name), " · ", cardLink(undone.restored.relation_id, undone.restored.display_name)),
      );
      flash(t("auto_undone"));
    } catch (error) {
      mount(message, problem(error));
    }
  }

  const decisions = Object.entries(merge.decisions);
  mount(
    main,
    h("h1", {}, t("auto_merge_result")),
    h(
      "dl",
      { class: "fields" },
      h("dt", {}, t("auto_survivor_is")),
      h("dd", { id: "merge-survivor-name" }, cardLink(merge.survivor_id, names[0])),
      h("dt", {}, t("auto_merged_is")),
      h("dd", {}, names[1] || merge.merged_id),
      h("dt", {}, t("view")),
      h("dd", {}, view.name),
    ),
    decisions.length
      ? [
          h("h2", {}, t("auto_decisions")),
          h("ul", { class: "plain-list", id: "merge-decisions" }, decisions.map(([name, side]) => h("li", {}, `${fieldLabel(name)}: ${t(`auto_side_${side}`)}`))),
        ]
      : null,
    merge.undone ? h("p", { class: "notice" }, t("auto_merge_undone")) : [h("p", { class: "muted" }, t("auto_merge_undo_hint")), can(RIGHTS.merge) ? undo : null],
    message,
    can(RIGHTS.review) ? h("p", {}, h("a", { href: `#/views/${viewId}/duplicates` }, t("auto_back_to_queue"))) : null,
  );
}
