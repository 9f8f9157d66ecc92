// The application shell: log in, the menu, and one screen at a time in <main>.

import { loggedIn, logOut, scheduleRefresh } from "./api.js";
import { h, mount } from "./dom.js";
import { applyLanguage, language, messageOf, setLanguage, t } from "./i18n.js";
import { closeAll } from "./live.js";
import { hideMenu, renderMenu } from "./menu.js";
import { current, go, match, route } from "./router.js";
import { clear, load, session } from "./state.js";
import { renderCard } from "./screens/card.js";
import { renderDashboard } from "./screens/dashboard.js";
import { renderFilter } from "./screens/filter.js";
import { renderList } from "./screens/list.js";
import { renderLogin } from "./screens/login.js";
import { renderSelection, renderSelections } from "./screens/selections.js";
import "./screens/admin/index.js"; // registers the administration routes
import "./screens/automation/index.js"; // registers its own routes
import { renderListsOverview } from "./screens/lists/overview.js";
import { renderCreate } from "./screens/daily/create.js";

route("/", renderDashboard);
route("/views/:view/lists", renderListsOverview);
route("/views/:view/lists/:list", renderList);
route("/views/:view/lists/:list/filter", renderFilter);
route("/views/:view/filter", renderFilter);
route("/views/:view/relations/:relation", renderCard);
route("/views/:view/selections", renderSelections);
route("/views/:view/selections/:selection", renderSelection);
route("/views/:view/new", renderCreate);

const main = document.getElementById("main");
let cleanup = null; // what the screen on display must stop (live listeners, timers)

async function show() {
  if (cleanup) {
    try {
      cleanup();
    } catch {
      /* a screen that fails to clean up must not block the next one */
    }
    cleanup = null;
  }
  if (!loggedIn()) {
    hideMenu();
    showUser();
    cleanup = renderLogin(main, async () => {
      await load();
      go(current() === "/login" ? "/" : current());
    });
    return;
  }
  if (!session.me) {
    try {
      await load();
    } catch {
      return; // a 401 logs out, which shows the login screen
    }
  }
  showUser();
  renderMenu();
  const found = match(current());
  if (!found) {
    go("/");
    return;
  }
  mount(main, h("p", { class: "muted" }, t("loading")));
  try {
    cleanup = (await found.render(main, found.params)) || null;
  } catch (error) {
    mount(main, h("h1", {}, t("error_title")), h("p", { class: "error" }, messageOf(error)));
  }
  // A screen that put focus somewhere itself (the dashboard's search bar) keeps it there.
  if (!main.contains(document.activeElement)) main.focus({ preventScroll: true });
}

function showUser() {
  const who = document.getElementById("who");
  const button = document.getElementById("logout");
  who.textContent = session.me ? session.me.display_name : "";
  button.hidden = !session.me;
}

document.getElementById("logout").addEventListener("click", () => logOut());
window.addEventListener("relata:logged-out", () => {
  closeAll();
  clear();
  show();
});
const picker = document.getElementById("language");
picker.value = language();
picker.addEventListener("change", () => {
  setLanguage(picker.value);
  show();
});
window.addEventListener("hashchange", show);
applyLanguage();
scheduleRefresh(); // a reloaded page keeps refreshing the token it had
show();
