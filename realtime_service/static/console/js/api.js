// HTTP calls to the two services, with the bearer token of one panel's session.
// Cookies are never sent: each panel has its own account, and the `token` cookie the
// auth service sets at login would be shared by all of them.

export const endpoints = {
  auth: "",
  // The page's folder (its <base> when it has one: /console/ points it at the root).
  realtime: new URL(".", document.baseURI).href.replace(/\/$/, ""),
};

export class ApiError extends Error {
  constructor(status, body) {
    super(describe(body));
    this.status = status;
    this.body = body;
  }
}

/** `{"message"}` or express-validator style `{"errors": [{param, msg}]}` as one line. */
export function describe(body) {
  if (body && Array.isArray(body.errors)) {
    return body.errors.map((e) => (e.param ? `${e.param}: ${e.msg}` : e.msg)).join("; ");
  }
  return (body && body.message) || "Request failed";
}

export async function call(base, method, path, { token, body, query, headers: extra } = {}) {
  const url = new URL(base + path);
  for (const [key, value] of Object.entries(query || {})) url.searchParams.set(key, value);
  const headers = { Accept: "application/json", ...extra };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  if (token) headers.Authorization = `Bearer ${token}`;
  let response;
  try {
    response = await fetch(url, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      credentials: "omit",
    });
  } catch {
    throw new ApiError(0, {
      message: `Cannot reach ${url.origin} (is it running, and does its CORS_ORIGINS ` +
        `allow ${location.origin}?)`,
    });
  }
  const data = await response.json().catch(() => ({}));
  if (!response.ok) throw new ApiError(response.status, data);
  return data;
}

/** Where the auth service is: `?auth=`, else this origin when it answers auth routes
 * (behind the gateway, also when the page is under a prefix), else this host on the
 * auth port the server told us. */
export async function discoverAuth() {
  const param = new URLSearchParams(location.search).get("auth");
  if (param) return param.replace(/\/$/, "");
  for (const base of new Set([endpoints.realtime, location.origin])) {
    try {
      const probe = await fetch(`${base}/users/profile`, { credentials: "omit" });
      if (probe.status === 401) return base;
    } catch {
      // try the next one, then the port guess
    }
  }
  const meta = document.querySelector('meta[name="ridewire-auth-port"]');
  const port = /^\d+$/.test(meta?.content || "") ? meta.content : "5001";
  return `${location.protocol}//${location.hostname}:${port}`;
}
