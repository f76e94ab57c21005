// Small DOM helpers. Data from the API is only ever inserted as text, never as HTML.

export const $ = (selector, root = document) => root.querySelector(selector);
export const $$ = (selector, root = document) => [...root.querySelectorAll(selector)];

/** h("li", {class: "x", dataset: {id}}, "text", child) -> a new element. */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue;
    if (key === "dataset") Object.assign(el.dataset, value);
    else if (key.startsWith("on")) el.addEventListener(key.slice(2), value);
    else if (key === "class") el.className = value;
    else el.setAttribute(key, value === true ? "" : value);
  }
  for (const child of children.flat()) {
    if (child === undefined || child === null || child === false) continue;
    el.append(child instanceof Node ? child : String(child));
  }
  return el;
}

export function show(el, visible) {
  if (el) el.hidden = !visible;
}

export function time(iso) {
  const date = iso ? new Date(iso) : new Date();
  return date.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit", second: "2-digit" });
}

export function fullName(account) {
  if (!account || typeof account !== "object") return String(account ?? "");
  const { firstname = "", lastname = "" } = account.fullname || {};
  return `${firstname} ${lastname || ""}`.trim() || account.email || account._id;
}

export function formValues(form) {
  return Object.fromEntries(new FormData(form).entries());
}

/** Run an async UI action with its button disabled, reporting failures with `onError`. */
export async function busy(button, action, onError) {
  if (button) button.disabled = true;
  try {
    return await action();
  } catch (error) {
    onError(error);
    return undefined;
  } finally {
    if (button) button.disabled = false;
  }
}
