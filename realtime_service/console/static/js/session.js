// One panel's account: sign-in and registration, profile, logout, and its own
// Socket.IO connection. Tokens live in this tab's sessionStorage, one key per panel.
import { ApiError, call, describe, endpoints } from "./api.js";
import { $, $$, busy, formValues, fullName, show } from "./dom.js";
import { logEvent } from "./log.js";

const PLURAL = { user: "users", captain: "captains" };

export class Session {
  constructor(panel) {
    this.panel = panel;
    this.name = panel.dataset.panel;
    this.role = panel.dataset.role;
    this.token = null;
    this.refreshToken = null;
    this.account = null;
    this.socket = null;
    this.listeners = new Map(); // socket event -> [handlers], re-attached on every connect
    this.signInHooks = [];
    this.signOutHooks = [];
    this.refreshing = null;
    this.mountAuthBox();
  }

  get id() {
    return this.account?._id;
  }

  get storageKey() {
    return `ridewire.console.${this.name}`;
  }

  /** Call the auth service (`/users/...` or `/captains/...` when `path` starts with "~"). */
  auth(method, path, options = {}) {
    const full = path.startsWith("~") ? `/${PLURAL[this.role]}${path.slice(1)}` : path;
    return this.request(endpoints.auth, method, full, options);
  }

  realtime(method, path, options = {}) {
    return this.request(endpoints.realtime, method, path, options);
  }

  /** A call with this panel's token; on a 401, one refresh of the token and one retry. */
  async request(base, method, path, { retry = true, ...options } = {}) {
    try {
      return await call(base, method, path, { token: this.token, ...options });
    } catch (error) {
      if (error.status !== 401 || !retry || !this.refreshToken) throw error;
      await this.refresh();
      return call(base, method, path, { token: this.token, ...options });
    }
  }

  /** Trade the refresh token for new tokens. Single flight: presenting a refresh token
   * twice counts as theft and revokes the whole session. */
  refresh() {
    this.refreshing ??= (async () => {
      try {
        const data = await call(endpoints.auth, "POST", "/auth/refresh",
          { body: { refreshToken: this.refreshToken } });
        Object.assign(this, { token: data.token, refreshToken: data.refreshToken });
        this.save();
        logEvent(this.name, "token refreshed", undefined, "info");
        if (this.socket) {
          this.socket.auth.token = this.token;
          if (!this.socket.connected) this.socket.connect();
        }
      } catch (error) {
        this.stop("Session expired, log in again");
        throw error;
      } finally {
        this.refreshing = null;
      }
    })();
    return this.refreshing;
  }

  save() {
    const { token, refreshToken, account } = this;
    sessionStorage.setItem(this.storageKey, JSON.stringify({ token, refreshToken, account }));
  }

  on(event, handler) {
    if (!this.listeners.has(event)) this.listeners.set(event, []);
    this.listeners.get(event).push(handler);
    this.socket?.on(event, handler);
  }

  onSignIn(hook) {
    this.signInHooks.push(hook);
  }

  onSignOut(hook) {
    this.signOutHooks.push(hook);
  }

  error(message) {
    const el = $("[data-field=error]", this.panel);
    el.textContent = message || "";
    show(el, Boolean(message));
  }

  fail = (error) => {
    this.error(error instanceof ApiError ? `${error.status || "network"}: ${error.message}`
      : String(error.message || error));
  };

  // --- sign-in state -------------------------------------------------------------

  start({ token, refreshToken, account }) {
    Object.assign(this, { token, refreshToken: refreshToken || null, account });
    this.save();
    this.panel.classList.add("signed-in");
    show($("[data-field=profile]", this.panel), false);
    this.error("");
    this.renderProfile();
    this.connect();
    for (const hook of this.signInHooks) hook(this.account);
  }

  stop(reason) {
    this.socket?.disconnect();
    this.socket = null;
    Object.assign(this, { token: null, refreshToken: null, account: null });
    sessionStorage.removeItem(this.storageKey);
    this.panel.classList.remove("signed-in");
    this.setSocketState("off");
    for (const hook of this.signOutHooks) hook();
    if (reason) this.error(reason);
  }

  /** Resume the session saved in this tab, if its token still works. */
  async restore() {
    const saved = JSON.parse(sessionStorage.getItem(this.storageKey) || "null");
    if (!saved?.token) return;
    Object.assign(this, { token: saved.token, refreshToken: saved.refreshToken || null });
    try {
      const data = await this.auth("GET", "~/profile");
      this.start({ token: this.token, refreshToken: this.refreshToken, account: data[this.role] });
    } catch (error) {
      if (this.token) this.stop(error.status === 401 ? "Saved session expired, log in again" : "");
    }
  }

  async signIn(mode, values) {
    const body = { email: values.email, password: values.password };
    if (mode === "register") {
      body.fullname = { firstname: values.firstname };
      if (values.lastname) body.fullname.lastname = values.lastname;
      if (this.role === "captain") {
        body.vehicle = {
          color: values.color, plate: values.plate,
          capacity: Number(values.capacity), vehicleType: values.vehicleType,
        };
      }
    }
    const data = await call(endpoints.auth, "POST", `/${PLURAL[this.role]}/${mode}`, { body });
    this.start({ token: data.token, refreshToken: data.refreshToken, account: data[this.role] });
  }

  async logout() {
    try {
      const body = this.refreshToken ? { refreshToken: this.refreshToken } : undefined;
      await this.auth("POST", "~/logout", { body, retry: false });
      this.stop();
    } catch (error) {
      // A token the server no longer accepts is as good as logged out.
      this.stop(error.status === 401 ? "" : `Logged out locally: ${error.message}`);
    }
  }

  setAccount(account) {
    this.account = account;
    this.save();
    this.renderProfile();
  }

  // --- socket --------------------------------------------------------------------

  connect() {
    const base = new URL(endpoints.realtime);
    const socket = window.io(base.origin, {
      path: `${base.pathname.replace(/\/$/, "")}/socket.io/`,
      auth: { token: this.token },
      withCredentials: false,
    });
    this.socket = socket;
    socket.onAny((event, payload) => logEvent(this.name, event, payload));
    socket.on("connect", () => {
      this.setSocketState("on");
      logEvent(this.name, "connect", { id: socket.id }, "info");
    });
    socket.on("disconnect", (reason) => {
      this.setSocketState("off");
      logEvent(this.name, "disconnect", reason, "info");
    });
    socket.on("connect_error", (error) => {
      this.setSocketState("error");
      logEvent(this.name, "connect_error", error.data || error.message, "info");
      if (!socket.active) this.error(`Socket refused: ${describe(error.data || error)}`);
    });
    socket.on("session-revoked", (data) => this.stop(`Session revoked: ${describe(data)}`));
    for (const [event, handlers] of this.listeners) {
      for (const handler of handlers) socket.on(event, handler);
    }
  }

  setSocketState(state) {
    const dot = $("[data-socket]", this.panel);
    dot.dataset.state = state;
    dot.title = `socket ${state}`;
  }

  // --- the auth box --------------------------------------------------------------

  mountAuthBox() {
    const slot = $("[data-slot=auth]", this.panel);
    slot.replaceChildren($("#tpl-auth").content.cloneNode(true));
    slot.classList.toggle("captain", this.role === "captain");
    let mode = "login";
    const form = $("[data-form=auth]", slot);
    const setMode = (next) => {
      mode = next;
      slot.dataset.mode = mode;
      for (const button of $$("[data-mode]", slot)) {
        button.setAttribute("aria-selected", String(button.dataset.mode === mode));
      }
      $("[data-field=auth-submit]", slot).textContent = mode === "login" ? "Log in" : "Register";
      for (const input of $$(".register-only input", slot)) {
        input.required = mode === "register" && ["firstname", "color", "plate", "capacity"]
          .includes(input.name) && (this.role === "captain" || input.name === "firstname");
      }
    };
    setMode("login");
    for (const button of $$("[data-mode]", slot)) {
      button.addEventListener("click", () => setMode(button.dataset.mode));
    }
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      const button = event.submitter;
      busy(button, () => this.signIn(mode, formValues(form)), this.fail);
    });
    $("[data-action=logout]", slot).addEventListener("click", (event) =>
      busy(event.currentTarget, () => this.logout(), this.fail));
    // Profile and Activity show the raw JSON (a second click hides it).
    const pre = $("[data-field=profile]", slot);
    const toggleJson = (what, value) => {
      const hide = !pre.hidden && pre.dataset.showing === what;
      pre.dataset.showing = what;
      pre.textContent = JSON.stringify(value, null, 2);
      show(pre, !hide);
    };
    $("[data-action=profile]", slot).addEventListener("click", (event) =>
      busy(event.currentTarget, async () => {
        const data = await this.auth("GET", "~/profile");
        this.setAccount(data[this.role]);
        toggleJson("profile", data[this.role]);
      }, this.fail));
    $("[data-action=activity]", slot).addEventListener("click", (event) =>
      busy(event.currentTarget, async () => {
        const data = await this.auth("GET", "~/activity", { query: { limit: 10 } });
        toggleJson("activity", data.activities);
      }, this.fail));
  }

  renderProfile() {
    const account = this.account || {};
    $("[data-field=name]", this.panel).textContent = fullName(account);
    $("[data-field=email]", this.panel).textContent = account.email || "";
    $("[data-field=id]", this.panel).textContent = account._id || "";
    const vehicle = account.vehicle;
    $("[data-field=vehicle]", this.panel).textContent = vehicle
      ? `${vehicle.color} ${vehicle.vehicleType} ${vehicle.plate} (${vehicle.capacity} seats)` : "";
  }
}
