// What the whole application shares: the logged-in user and the views they work in.

import { get } from "./api.js";

const VIEW_KEY = "relata.view";
export const session = { me: null, views: [] };

export async function load() {
  const [me, views] = await Promise.all([get("/me"), get("/views")]);
  session.me = me;
  session.views = views;
  return session;
}

export async function reloadViews() {
  session.views = await get("/views");
  return session.views;
}

export function viewById(id) {
  return session.views.find((v) => v.view_id === id) || null;
}

/** The view the user worked in last (the dashboard searches in it). */
export function currentView() {
  return viewById(localStorage.getItem(VIEW_KEY)) || session.views[0] || null;
}

export function setCurrentView(id) {
  if (viewById(id)) localStorage.setItem(VIEW_KEY, id);
}

export function clear() {
  session.me = null;
  session.views = [];
}

/** The form's fields in order, with the name of the tab each is on. */
export function formFields(view) {
  return view.form.tabs.flatMap((tab) => tab.fields.map((name) => ({ tab: tab.name, name })));
}

export function shows(view, name) {
  return view.form.tabs.some((tab) => tab.fields.includes(name));
}
