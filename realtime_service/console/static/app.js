// Ridewire console: three panels (rider, captain, second chat user), each with its own
// account and Socket.IO connection, and a log of every socket event received. The
// rider and the captain of an accepted ride can call each other (js/call.js).
import { authAnswers, discoverAuth, endpoints } from "./js/api.js";
import { mountCall } from "./js/call.js";
import { mountCaptain } from "./js/captain.js";
import { mountChat } from "./js/chat.js";
import { $, $$ } from "./js/dom.js";
import { initLog } from "./js/log.js";
import { mountRider } from "./js/rider.js";
import { Session } from "./js/session.js";

async function checkAuth() {
  const pill = $("#auth-status");
  pill.dataset.state = "unknown";
  pill.textContent = "checking…";
  const answer = await authAnswers(endpoints.auth);
  pill.dataset.state = answer.ok ? "on" : "error";
  pill.textContent = answer.ok ? "reachable" : "unreachable";
  pill.title = answer.ok ? "" : answer.message || "not the auth service";
}

function initSettings() {
  $("#rt-url").textContent = endpoints.realtime;
  $("#auth-url").textContent = endpoints.auth;
}

function initTabs() {
  const select = (name) => {
    for (const button of $$("#tabs [data-tab]")) {
      button.setAttribute("aria-selected", String(button.dataset.tab === name));
    }
    for (const panel of $$(".panel")) {
      const shown = panel.dataset.panel === name;
      panel.classList.toggle("active", shown);
      if (shown) panel.dispatchEvent(new Event("panel-shown"));
    }
  };
  for (const button of $$("#tabs [data-tab]")) {
    button.addEventListener("click", () => select(button.dataset.tab));
  }
}

async function main() {
  if (typeof window.io !== "function") {
    document.body.prepend("The Socket.IO client did not load.");
    return;
  }
  initLog();
  initTabs();
  endpoints.auth = discoverAuth();
  initSettings();
  checkAuth();
  const rider = new Session($("#panel-rider"));
  const captain = new Session($("#panel-captain"));
  const chat = new Session($("#panel-chat"));
  mountRider(rider, mountChat(rider), mountCall(rider));
  mountCaptain(captain, mountChat(captain), mountCall(captain));
  mountChat(chat);
  await Promise.all([rider, captain, chat].map((session) => session.restore()));
  document.body.dataset.ready = "true";
}

main().catch((error) => {
  document.body.prepend(Object.assign(document.createElement("p"), {
    className: "error", textContent: `The console failed to start: ${error.message}`,
  }));
  throw error;
});
