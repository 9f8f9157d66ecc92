// Donations and event registrations on the card: totals and the last gift at a glance, then a
// paged list with dates and amounts (money and dates in the UI language).

import { get, query } from "../../api.js";
import { h, mount } from "../../dom.js";
import { t } from "../../i18n.js";
import { day, money, moment } from "../../format.js";
import "./words.js";

export async function donationsSection(body, ctx, after = null, shown = []) {
  const summary = ctx.card.donations;
  if (!summary) return mount(body, h("p", { class: "muted" }, t("not_available")));
  if (!summary.count) return mount(body, h("p", { class: "muted" }, t("no_donations")));
  const page = await get(`${ctx.base}/donations${query({ limit: 20, after })}`);
  const all = [...shown, ...page.donations];
  const gift = (g) => (g ? `${money(g.amount, g.currency)} · ${day(g.received_on)}` : "—");
  mount(
    body,
    h(
      "dl",
      { class: "day-totals", id: "donation-summary" },
      h("div", {}, h("dt", {}, t("day_total")), h("dd", {}, summary.total.map((x) => money(x.amount, x.currency)).join(" + "))),
      h("div", {}, h("dt", {}, t("day_gifts")), h("dd", {}, String(summary.count))),
      h("div", {}, h("dt", {}, t("day_last_gift")), h("dd", { id: "last-gift" }, gift(summary.last_gift))),
      h("div", {}, h("dt", {}, t("day_first_gift")), h("dd", {}, gift(summary.first_gift))),
    ),
    h(
      "table",
      { id: "donations" },
      h("caption", { class: "visually-hidden" }, t("donations_count")),
      h(
        "thead",
        {},
        h("tr", {}, h("th", { scope: "col" }, t("day_date")), h("th", { scope: "col", class: "num" }, t("day_amount")), h("th", { scope: "col" }, t("day_campaign"))),
      ),
      h(
        "tbody",
        {},
        all.map((d) =>
          h(
            "tr",
            {},
            h("td", {}, h("time", { datetime: d.received_on }, day(d.received_on))),
            h("td", { class: "num" }, money(d.amount, d.currency)),
            h("td", {}, d.campaign || h("span", { class: "muted" }, "—")),
          ),
        ),
      ),
    ),
    page.next ? h("button", { type: "button", onclick: () => donationsSection(body, ctx, page.next, all) }, t("day_more")) : null,
  );
}

export async function registrationsSection(body, ctx, after = null, shown = []) {
  const page = await get(`${ctx.base}/registrations${query({ limit: 20, after })}`);
  const all = [...shown, ...page.events];
  mount(
    body,
    all.length
      ? h(
          "table",
          { id: "registrations" },
          h(
            "thead",
            {},
            h(
              "tr",
              {},
              h("th", { scope: "col" }, t("day_event")),
              h("th", { scope: "col" }, t("day_date")),
              h("th", { scope: "col" }, t("day_status")),
            ),
          ),
          h(
            "tbody",
            {},
            all.map((e) =>
              h(
                "tr",
                {},
                h("th", { scope: "row" }, e.event_code),
                h("td", {}, e.event_date ? day(e.event_date) : "—"),
                h(
                  "td",
                  {},
                  e.registrations.map((r) =>
                    h(
                      "div",
                      {},
                      t(`registration_${r.status}`),
                      r.registered_at ? h("span", { class: "muted" }, ` · ${t("day_registered_at")} ${moment(r.registered_at)}`) : null,
                    ),
                  ),
                ),
              ),
            ),
          ),
        )
      : h("p", { class: "muted" }, t("no_registrations")),
    page.next ? h("button", { type: "button", onclick: () => registrationsSection(body, ctx, page.next, all) }, t("day_more")) : null,
  );
}
