// What a list's table shows: the columns a user chose for a list (remembered in this browser,
// per list: the API keeps no table settings), a cell's value as text (for showing, sorting and
// searching alike) and the lists a user opened lately (the menu shows those first).

import { day, money } from "../../format.js";
import { fieldLabel, language, t } from "../../i18n.js";
import { formFields } from "../../state.js";

const COLUMNS_KEY = "relata.list-columns.";
const RECENT_KEY = "relata.recent-lists.";
const RECENT_MAX = 5;
/** Parts of a card that are not one value (a table cannot show them as a column). */
export const SECTIONS = ["functions", "contact_moments", "lists", "history", "donations", "registrations", "properties"];

/** The fields a view's form shows that can be a column, in the form's order. */
export function columnChoices(view) {
  const seen = new Set();
  return formFields(view)
    .map((f) => f.name)
    .filter((name) => !SECTIONS.includes(name) && !seen.has(name) && seen.add(name));
}

/** A field's label as the view's form names it, in the user's language. */
export function labelOf(view, name) {
  const own = view.labels && view.labels[name];
  return (own && own[language()]) || fieldLabel(name);
}

export function chosenColumns(view, listId) {
  try {
    const stored = JSON.parse(localStorage.getItem(COLUMNS_KEY + listId) || "[]");
    const allowed = new Set(columnChoices(view));
    return stored.filter((name) => allowed.has(name)); // the form may have changed since
  } catch {
    return [];
  }
}

export function chooseColumns(listId, names) {
  localStorage.setItem(COLUMNS_KEY + listId, JSON.stringify(names));
}

export function recentLists(viewId) {
  try {
    return JSON.parse(localStorage.getItem(RECENT_KEY + viewId) || "[]");
  } catch {
    return [];
  }
}

export function rememberList(viewId, listId) {
  const ids = [listId, ...recentLists(viewId).filter((id) => id !== listId)].slice(0, RECENT_MAX);
  localStorage.setItem(RECENT_KEY + viewId, JSON.stringify(ids));
}

/** A field's value as one line of text (the first address, phone or e-mail address). */
export function cellText(name, value, spec) {
  if (value === null || value === undefined || value === "") return "";
  if (Array.isArray(value)) {
    if (!value.length) return "";
    const first = value[0];
    if (name === "addresses") {
      return [[first.street, first.house_number].filter(Boolean).join(" "), first.city].filter(Boolean).join(", ");
    }
    if (first && typeof first === "object") return first.number || first.address || Object.values(first).filter(Boolean).join(" ");
    return value.join(", ");
  }
  if (typeof value === "boolean") return value ? t("yes") : t("no");
  if (typeof value === "object") {
    if (value.amount !== undefined) return money(value.amount, value.currency || "EUR");
    return Object.values(value).filter(Boolean).join(" ");
  }
  if (spec && (spec.type === "date" || spec.type === "datetime")) return day(value);
  if (spec && spec.type === "money") return money(value);
  if (name === "gender" || name === "relation_type") return t(value);
  return String(value);
}

/** The values of a relation card, every tab's fields together. */
export function cardValues(card) {
  return Object.assign({}, ...card.tabs.map((tab) => tab.fields || {}));
}
