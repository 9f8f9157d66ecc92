// A tiny helper to build DOM nodes without a framework or a build step.
//   h("button", { class: "primary", onclick: save }, t("save"))
// Attributes named on* become event listeners; null/false attributes and children are skipped,
// so conditional parts can be written inline.

export function h(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (name.startsWith("on") && typeof value === "function") {
      node.addEventListener(name.slice(2), value);
    } else if (name === "class") {
      node.className = value;
    } else if (name === "value" || name === "checked" || name === "selected") {
      node[name] = value; // properties, so a later user edit is not reset by an attribute
    } else {
      node.setAttribute(name, value === true ? "" : String(value));
    }
  }
  append(node, children);
  return node;
}

function append(node, children) {
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

/** Replace a node's contents. */
export function mount(node, ...children) {
  node.replaceChildren();
  append(node, children);
  return node;
}

let uid = 0;
/** A unique id, to tie a <label for> to its control. */
export function nextId(prefix = "f") {
  uid += 1;
  return `${prefix}-${uid}`;
}

/** A labelled control: the label wraps a caption and the control. */
export function field(caption, control, extra = {}) {
  return h("label", { class: "field", ...extra }, h("span", {}, caption), control);
}

/** Run fn at most once per `ms` of quiet: for typing and bursts of live events. */
export function debounce(fn, ms) {
  let timer = null;
  return (...args) => {
    clearTimeout(timer);
    timer = setTimeout(() => fn(...args), ms);
  };
}

/** A short message in the corner (announced by screen readers through role=status). */
export function flash(message, ms = 4000) {
  const box = document.getElementById("status");
  // The same news twice in a row (a burst of live events) is shown once.
  if ([...box.children].some((shown) => shown.textContent === message)) return;
  const item = h("div", {}, message);
  box.append(item);
  setTimeout(() => item.remove(), ms);
}
