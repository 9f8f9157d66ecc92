// Log in with a username and password (the gateway answers an access token).

import { ApiError, logIn } from "../api.js";
import { field, h, mount } from "../dom.js";
import { t } from "../i18n.js";

export function renderLogin(main, done) {
  const username = h("input", { name: "username", autocomplete: "username", required: true });
  const password = h("input", {
    name: "password",
    type: "password",
    autocomplete: "current-password",
    required: true,
  });
  const problem = h("div", { role: "alert" });
  const form = h(
    "form",
    {
      class: "panel login",
      onsubmit: async (event) => {
        event.preventDefault();
        mount(problem);
        try {
          await logIn(username.value.trim(), password.value);
          await done();
        } catch (error) {
          const text = error instanceof ApiError && error.status === 401 ? t("login_failed") : String(error.message);
          mount(problem, h("p", { class: "error" }, text));
          password.select();
        }
      },
    },
    h("h1", {}, t("log_in")),
    field(t("username"), username),
    field(t("password"), password),
    problem,
    h("button", { class: "primary", type: "submit" }, t("log_in")),
  );
  mount(main, form);
  username.focus();
}
