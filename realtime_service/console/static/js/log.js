// The live log of every socket event any panel receives.
import { $, h, time } from "./dom.js";

const MAX_ENTRIES = 300;
const MAX_PAYLOAD = 4000;
let count = 0;

function payloadText(payload) {
  if (payload === undefined) return "";
  const text = typeof payload === "string" ? payload : JSON.stringify(payload, null, 1);
  return text.length > MAX_PAYLOAD ? `${text.slice(0, MAX_PAYLOAD)}…` : text;
}

function matches(item) {
  const query = $("#log-filter").value.trim().toLowerCase();
  return !query || `${item.dataset.source} ${item.dataset.event}`.toLowerCase().includes(query);
}

/** Add one entry: `source` is the panel, `kind` "event" (from the server) or "info". */
export function logEvent(source, event, payload, kind = "event") {
  if ($("#log-pause").checked) return;
  const list = $("#log");
  list.prepend(h("li", { class: kind, dataset: { source, event } },
    h("span", { class: "time" }, time()),
    h("span", { class: `tag ${source}` }, source),
    h("strong", {}, event),
    payload === undefined ? null : h("pre", {}, payloadText(payload))));
  list.firstElementChild.hidden = !matches(list.firstElementChild);
  while (list.children.length > MAX_ENTRIES) list.lastElementChild.remove();
  count += 1;
  $("#log-count").textContent = String(count);
}

export function initLog() {
  $("#log-filter").addEventListener("input", () => {
    for (const item of $("#log").children) item.hidden = !matches(item);
  });
  $("#log-clear").addEventListener("click", () => {
    $("#log").replaceChildren();
    count = 0;
    $("#log-count").textContent = "0";
  });
}
