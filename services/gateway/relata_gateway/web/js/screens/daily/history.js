// A relation's history told as sentences: "Anouk de Vries changed Addresses from Stationsplein
// 1, Amersfoort to Oudegracht 158, 3511 AZ Utrecht." Values are written as a person reads
// them (addresses in natural order, days and yes/no in the UI language), never as ids.

import { get, query } from "../../api.js";
import { h, mount } from "../../dom.js";
import { fieldLabel, t } from "../../i18n.js";
import { addressLine, day, moment } from "../../format.js";
import "./words.js";

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const ISO_DAY = /^\d{4}-\d{2}-\d{2}$/;

/** A value as words; null for "nothing". */
export function spoken(field, value) {
  if (value === null || value === undefined || value === "" || (Array.isArray(value) && !value.length)) return null;
  if (Array.isArray(value)) return value.map((item) => spoken(field, item)).filter(Boolean).join("; ");
  if (typeof value === "boolean") return value ? t("yes") : t("no");
  if (typeof value === "object") {
    if (field === "addresses" || "street" in value || "city" in value) return addressLine(value);
    if (value.address) return value.address;
    if (value.number) return value.number;
    // Other objects: their readable parts, leaving ids and kinds out.
    return Object.entries(value)
      .filter(([key, v]) => v !== null && v !== "" && !key.endsWith("_id") && key !== "type" && !UUID.test(String(v)))
      .map(([, v]) => spoken(field, v))
      .filter(Boolean)
      .join(" ");
  }
  const text = String(value);
  if (UUID.test(text)) return null;
  if (ISO_DAY.test(text)) return day(text);
  if (field === "gender") return t(text);
  return text;
}

export function sentence(entry) {
  const actor = entry.actor_name || t(`actor_${entry.actor_kind}`);
  const who = actor.charAt(0).toUpperCase() + actor.slice(1);
  if (entry.kind === "relation.created") return [t("day_hist_created", { who })];
  if (!entry.changes.length) {
    const kind = entry.kind.split(".").pop();
    const known = { archived: "day_hist_archived", unarchived: "day_hist_unarchived" }[kind];
    return [known ? t(known, { who }) : t("day_hist_other", { who, kind })];
  }
  return entry.changes.map((c) => {
    const field = fieldLabel(c.field);
    const [old, now] = [spoken(c.field, c.old), spoken(c.field, c.new)];
    if (old === null) return t("day_hist_set", { who, field, new: now ?? "—" });
    if (now === null) return t("day_hist_cleared", { who, field, old });
    return t("day_hist_changed", { who, field, old, new: now });
  });
}

export async function historySection(body, ctx, before = null, shown = []) {
  const entries = await get(`${ctx.base}/history${query({ limit: 20, before_version: before })}`);
  const all = [...shown, ...entries];
  mount(
    body,
    all.length
      ? h(
          "ol",
          { class: "plain-list day-history", id: "history" },
          all.map((e) =>
            h(
              "li",
              {},
              sentence(e).map((s) => h("div", {}, s)),
              h("div", { class: "muted" }, h("time", { datetime: e.occurred_at }, moment(e.occurred_at))),
            ),
          ),
        )
      : h("p", { class: "muted" }, t("no_history")),
    entries.length === 20
      ? h("button", { type: "button", onclick: () => historySection(body, ctx, all[all.length - 1].version, all) }, t("older"))
      : null,
  );
}
