// Money, dates and addresses as the UI language writes them (Intl: nl-NL or en-GB): the one
// place every screen formats them.

import { language } from "./i18n.js";

const locale = () => (language() === "nl" ? "nl-NL" : "en-GB");

export function money(amount, currency = "EUR") {
  try {
    return new Intl.NumberFormat(locale(), { style: "currency", currency }).format(Number(amount));
  } catch {
    return `${currency} ${amount}`; // a code Intl does not know
  }
}

/** A calendar day ("2026-11-02") without shifting it through a time zone. */
export function day(iso) {
  if (!iso) return "";
  const [y, m, d] = String(iso).slice(0, 10).split("-").map(Number);
  if (!y || !m || !d) return String(iso);
  return new Intl.DateTimeFormat(locale(), { dateStyle: "medium" }).format(new Date(y, m - 1, d));
}

export function moment(iso) {
  if (!iso) return "";
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return String(iso);
  return new Intl.DateTimeFormat(locale(), { dateStyle: "medium", timeStyle: "short" }).format(date);
}

/** Today as yyyy-mm-dd in the user's time zone (for date inputs). */
export function today(offsetDays = 0) {
  const now = new Date(Date.now() + offsetDays * 86400000);
  return new Date(now.getTime() - now.getTimezoneOffset() * 60000).toISOString().slice(0, 10);
}

/** An address in natural order: "Oudegracht 158, 3511 AZ Utrecht" (a foreign country last). */
export function addressLine(a) {
  if (!a) return "";
  const street = [a.street, a.house_number].filter(Boolean).join(" ");
  const place = [a.postal_code, a.city].filter(Boolean).join(" ");
  const country = a.country && a.country !== "NL" ? a.country : "";
  return [street, place, country].filter(Boolean).join(", ");
}
