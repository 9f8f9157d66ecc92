// "My open follow-ups" on the dashboard: soonest due first, overdue ones marked, each with the
// relations it is about (opened in a view that shows them) and a button to mark it done.

import { get, request } from "../../api.js";
import { flash, h, mount } from "../../dom.js";
import { messageOf, t } from "../../i18n.js";
import { day, today } from "../../format.js";
import "./words.js";

export function followUpsPanel() {
  const body = h("div", {}, h("p", { class: "muted" }, t("loading")));
  const panel = h(
    "section",
    { class: "panel", "aria-labelledby": "follow-ups-title", id: "my-follow-ups" },
    h("h2", { id: "follow-ups-title" }, t("day_my_follow_ups")),
    body,
  );
  const load = async () => {
    const items = await get("/dashboard/follow-ups");
    const now = today();
    mount(
      body,
      items.length
        ? h(
            "ul",
            { class: "plain-list" },
            items.map((f) =>
              h(
                "li",
                { "data-follow-up": f.follow_up_id },
                h(
                  "div",
                  {},
                  h("strong", {}, f.subject),
                  " · ",
                  f.relations.map((r, i) => [i ? ", " : "", h("a", { href: `#/views/${r.view_id}/relations/${r.relation_id}` }, r.display_name)]),
                ),
                h(
                  "div",
                  { class: "muted" },
                  t("day_due", { date: day(f.due_on) }),
                  f.due_on < now ? [" ", h("span", { class: "badge day-overdue" }, t("day_overdue"))] : null,
                  f.note ? ` · ${f.note}` : "",
                ),
                h(
                  "button",
                  {
                    type: "button",
                    class: "day-small",
                    onclick: async () => {
                      const where = f.relations[0].view_id;
                      try {
                        await request(
                          "PATCH",
                          `/views/${where}/contact-moments/${f.contact_moment_id}/follow-ups/${f.follow_up_id}`,
                          { done: true },
                          { ifMatch: `"${f.version}"` },
                        );
                        flash(t("day_follow_up_done"));
                        await load();
                      } catch (error) {
                        flash(messageOf(error));
                      }
                    },
                  },
                  t("day_mark_done"),
                  h("span", { class: "visually-hidden" }, ` ${f.subject}`),
                ),
              ),
            ),
          )
        : h("p", { class: "muted" }, t("day_no_follow_ups")),
    );
  };
  return { panel, load: () => load().catch((error) => mount(body, h("p", { class: "error" }, messageOf(error)))) };
}
