// Hash routes (#/views/…): the gateway serves one static page, so a reload or a bookmark
// lands on the same screen without server-side routing.

const routes = [];

/** Register a pattern such as "/views/:view/lists/:list" with its render function. */
export function route(pattern, render) {
  const names = [];
  const regex = new RegExp(
    "^" + pattern.replace(/:([a-z]+)/g, (_, name) => (names.push(name), "([^/]+)")) + "$",
  );
  routes.push({ regex, names, render });
}

export function current() {
  return location.hash.replace(/^#/, "") || "/";
}

export function go(path) {
  if (current() === path) {
    window.dispatchEvent(new HashChangeEvent("hashchange"));
  } else {
    location.hash = path;
  }
}

/** The render function and parameters of a path (or null). */
export function match(path) {
  const [bare] = path.split("?");
  for (const { regex, names, render } of routes) {
    const found = regex.exec(bare);
    if (found) {
      const params = Object.fromEntries(names.map((n, i) => [n, decodeURIComponent(found[i + 1])]));
      return { render, params };
    }
  }
  return null;
}
