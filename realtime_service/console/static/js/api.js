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

/** Where the auth service is: the URL the server wrote in the page (this host on its
 * auth port), else this page's origin (behind a gateway). Never from the page's own
 * address: a link to the console must not point its logins and tokens elsewhere. */
export function discoverAuth() {
  return (meta("ridewire-auth-url") || location.origin).replace(/\/$/, "");
}

function meta(name) {
  return document.querySelector(`meta[name="${name}"]`)?.content || "";
}

/** Whether `base` answers as the auth service, by its liveness check: `/healthz` of the
 * service itself (with CORS headers for an allowed origin), or `/auth-service/healthz`
 * of a gateway, which routes the auth service whole there but no `/healthz` to it. A
 * base on this page's origin is a gateway (no service serves both the page and the auth
 * routes). No auth route is asked: without a token it is a 401 in devtools. */
export async function authAnswers(base) {
  const sameOrigin = new URL(base, location.href).origin === location.origin;
  const paths = sameOrigin ? ["/auth-service/healthz"] : ["/healthz", "/auth-service/healthz"];
  let answer;
  for (const path of paths) {
    answer = await liveness(`${base}${path}`);
    if (answer.ok || answer.network) return answer;
  }
  return answer;
}

async function liveness(url) {
  try {
    const response = await fetch(url, { credentials: "omit" });
    return { ok: response.ok, message: `${url} answered ${response.status}` };
  } catch {
    return { ok: false, network: true, message: `Cannot reach ${new URL(url).origin} (is it ` +
      `running, and does its CORS_ORIGINS allow ${location.origin}?)` };
  }
}
