// The gateway's public JSON API, with the access token of the logged-in user.
// Only this module talks to the network; screens call the functions below.

const TOKEN_KEY = "relata.token";
const EXPIRES_KEY = "relata.token-expires"; // when the token lapses (ms since the epoch)
const REFRESH_MARGIN_MS = 60_000;
let refreshTimer = null;

export class ApiError extends Error {
  constructor(status, detail, body = null) {
    super(typeof detail === "string" ? detail : JSON.stringify(detail));
    this.status = status;
    this.detail = detail;
    this.body = body; // the whole answer: a 409 may name more than its detail (used_by)
  }
}

export function token() {
  return sessionStorage.getItem(TOKEN_KEY);
}

export function loggedIn() {
  return Boolean(token());
}

export async function logIn(username, password) {
  const answer = await request("POST", "/auth/token", { username, password }, { anonymous: true });
  keep(answer.data);
}

export function logOut() {
  clearTimeout(refreshTimer);
  // End the login at the gateway too, so this token can no longer be refreshed; the screen
  // does not wait for it (an expired token is already logged out there).
  const ending = token();
  if (ending) {
    fetch("/auth/logout", { method: "POST", headers: { Authorization: `Bearer ${ending}` } }).catch(() => {});
  }
  sessionStorage.removeItem(TOKEN_KEY);
  sessionStorage.removeItem(EXPIRES_KEY);
  window.dispatchEvent(new CustomEvent("relata:logged-out"));
}

// Access tokens are short-lived. While the application is open it swaps its token for a new
// one shortly before it lapses, so a user is not sent back to the login screen mid-work.
function keep({ access_token: accessToken, expires_in: seconds }) {
  sessionStorage.setItem(TOKEN_KEY, accessToken);
  sessionStorage.setItem(EXPIRES_KEY, String(Date.now() + seconds * 1000));
  scheduleRefresh();
}

export function scheduleRefresh() {
  clearTimeout(refreshTimer);
  const expires = Number(sessionStorage.getItem(EXPIRES_KEY) || 0);
  if (!token() || !expires) return;
  const wait = Math.max(expires - Date.now() - REFRESH_MARGIN_MS, 0);
  refreshTimer = setTimeout(async () => {
    try {
      keep((await request("POST", "/auth/refresh")).data);
    } catch {
      /* a 401 has logged out already; other failures leave the token until it lapses */
    }
  }, wait);
}

/**
 * One call: resolves to { data, etag, status }; rejects with ApiError (status, detail).
 * A 401 means the token expired or is invalid: the app returns to the login screen.
 */
export async function request(method, path, body, options = {}) {
  const headers = { Accept: "application/json" };
  if (!options.anonymous && token()) headers.Authorization = `Bearer ${token()}`;
  if (body !== undefined) headers["Content-Type"] = "application/json";
  if (options.ifMatch) headers["If-Match"] = options.ifMatch;
  const response = await fetch(path, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  if (response.status === 401 && !options.anonymous) {
    logOut();
  }
  const type = response.headers.get("Content-Type") || "";
  let data = null;
  if (response.status !== 204) {
    data = type.includes("application/json") ? await response.json() : await response.text();
  }
  if (!response.ok) {
    throw new ApiError(response.status, data && data.detail !== undefined ? data.detail : data, data);
  }
  return { data, etag: response.headers.get("ETag"), status: response.status };
}

export const get = async (path) => (await request("GET", path)).data;
export const post = async (path, body) => (await request("POST", path, body)).data;

/** A query string from an object, leaving out empty values. */
export function query(params) {
  const search = new URLSearchParams();
  for (const [key, value] of Object.entries(params)) {
    if (value !== null && value !== undefined && value !== "") search.set(key, value);
  }
  const text = search.toString();
  return text ? `?${text}` : "";
}

/** Download a file the API answers (a CSV export) with the token, as the browser would. */
export async function download(path, filename) {
  const response = await fetch(path, { headers: { Authorization: `Bearer ${token()}` } });
  if (!response.ok) throw new ApiError(response.status, await response.text());
  const url = URL.createObjectURL(await response.blob());
  const link = document.createElement("a");
  link.href = url;
  link.download = filename;
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 1000);
}
