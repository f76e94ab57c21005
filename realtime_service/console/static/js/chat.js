// Chat: contacts with online dots and unseen counts, one open conversation with
// sent/seen marks, all updated live from the socket. Users chat with every user; a
// rider and the captain of their accepted or ongoing ride chat with each other.
import { endpoints } from "./api.js";
import { $, busy, fullName, h, show, time } from "./dom.js";

/** Returns {reload, addContact(account, label)} for the panel's ride code. */
export function mountChat(session) {
  const slot = $("[data-slot=chat]", session.panel);
  slot.replaceChildren($("#tpl-chat").content.cloneNode(true));
  const contactList = $("[data-field=contacts]", slot);
  const messageList = $("[data-field=messages]", slot);
  const form = $("[data-form=send]", slot);
  const state = { users: [], unseen: {}, online: new Set(), peer: null, messages: [] };
  const extra = new Map(); // contacts the sidebar does not list: a rider's captain
  let reloading = null;

  function renderContacts() {
    const items = state.users.map((user) => {
      const online = state.online.has(user._id);
      const unseen = state.unseen[user._id] || 0;
      return h("li", {},
        h("button", {
          type: "button", class: state.peer === user._id ? "contact current" : "contact",
          dataset: { user: user._id, online: String(online) },
          onclick: (event) => busy(event.currentTarget, () => open(user._id), session.fail),
        },
        // The online list covers users, and only users receive it.
        user.label || session.role !== "user" ? null : h("span", { class: "dot", dataset: { state: online ? "on" : "off" },
          title: online ? "online" : "offline" }),
        h("span", { class: "contact-name" }, fullName(user)),
        user.label ? h("span", { class: "pill" }, user.label) : null,
        unseen ? h("span", { class: "badge", dataset: { unseen: String(unseen) } }, unseen)
          : null));
    });
    if (!items.length) {
      items.push(h("li", { class: "muted small" }, slot.dataset.hint || "No other users yet"));
    }
    contactList.replaceChildren(...items);
    // Unseen messages on the panel's tab (phone layout), where they are easy to miss.
    const total = Object.values(state.unseen).reduce((sum, n) => sum + n, 0);
    const badge = $(`#tabs [data-tab=${session.name}] [data-unseen]`);
    badge.textContent = String(total);
    show(badge, total > 0);
  }

  function imageUrl(url) {
    return url.startsWith("/") ? endpoints.auth + url : url;
  }

  function renderMessages() {
    const items = state.messages.map((message) => {
      const mine = message.senderId === session.id;
      return h("li", { class: mine ? "mine" : "theirs", dataset: { message: message._id } },
        message.text ? h("span", { class: "text" }, message.text) : null,
        message.image ? h("img", { src: imageUrl(message.image), alt: "image" }) : null,
        h("span", { class: "meta" }, time(message.createdAt),
          mine ? h("span", { class: "mark", dataset: { seen: String(Boolean(message.seen)) } },
            message.seen ? " ✓✓ seen" : " ✓ sent") : null));
    });
    messageList.replaceChildren(...items);
    messageList.scrollTop = messageList.scrollHeight;
  }

  async function loadContacts() {
    const data = await session.realtime("GET", "/messages/users");
    const listed = new Set(data.users.map((u) => u._id));
    state.users = [...[...extra.values()].filter((u) => !listed.has(u._id)), ...data.users];
    state.unseen = { ...data.unseen };
    renderContacts();
  }

  /** Reload the contacts once when someone unknown shows up (a new account). */
  function reloadSoon() {
    reloading ??= loadContacts().catch(session.fail).finally(() => { reloading = null; });
  }

  async function open(peerId) {
    state.peer = peerId;
    unmarked.clear();
    const data = await session.realtime("GET", `/messages/${peerId}`);
    state.messages = data.messages;
    // Opening the conversation shows it all: the seen mark moves to its newest message.
    const received = data.messages.filter((m) => m.receiverId === session.id);
    if (received.length) markSeen(peerId, received.at(-1)._id);
    state.unseen[peerId] = 0;
    const peer = state.users.find((u) => u._id === peerId);
    $("[data-field=peer]", slot).textContent = `Conversation with ${fullName(peer)}`;
    for (const control of form.elements) control.disabled = false;
    renderContacts();
    renderMessages();
    form.text.focus();
  }

  function add(message) {
    if (!state.messages.some((m) => m._id === message._id)) state.messages.push(message);
    renderMessages();
  }

  const attachment = $("[data-field=attachment]", slot);
  form.image.addEventListener("change", () => {
    const file = form.image.files[0];
    attachment.textContent = file ? `Attached: ${file.name} (${Math.ceil(file.size / 1024)} KiB)`
      : "";
    show(attachment, Boolean(file));
  });

  function dataUrl(file) {
    return new Promise((resolve, reject) => {
      const reader = new FileReader();
      reader.onload = () => resolve(reader.result);
      reader.onerror = () => reject(reader.error);
      reader.readAsDataURL(file);
    });
  }

  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const text = form.text.value.trim();
    const file = form.image.files[0];
    if ((!text && !file) || !state.peer) return;
    busy(event.submitter, async () => {
      const body = { text: text || null, image: file ? await dataUrl(file) : null };
      // Naming this socket keeps the server from echoing the message back to it.
      const headers = session.socket?.id ? { "X-Socket-ID": session.socket.id } : {};
      const data = await session.realtime("POST", `/messages/send/${state.peer}`,
        { body, headers });
      form.reset();
      show(attachment, false);
      add(data.newMessage);
    }, session.fail);
  });

  // A message counts as seen only once it is on screen: the panel is shown (phone tabs)
  // and the browser tab is visible. Until then it waits here, and in the unseen count.
  const unmarked = new Set();
  const onScreen = () => document.visibilityState === "visible" &&
    session.panel.getClientRects().length > 0;

  /** Move this account's seen mark on the peer's messages to `upTo` (one request). */
  function markSeen(peerId, upTo) {
    for (const message of state.messages) {
      if (message.receiverId === session.id && message._id <= upTo) message.seen = true;
    }
    // Naming this socket: the other tabs and devices of the account are told, not this one.
    const headers = session.socket?.id ? { "X-Socket-ID": session.socket.id } : {};
    session.realtime("POST", `/messages/${peerId}/seen`, { body: { upTo }, headers })
      .catch(session.fail);
  }

  function markShown() {
    if (!onScreen() || !unmarked.size) return;
    markSeen(state.peer, [...unmarked].sort().at(-1));
    unmarked.clear();
    state.unseen[state.peer] = 0;
    renderContacts();
  }
  document.addEventListener("visibilitychange", markShown);
  session.panel.addEventListener("panel-shown", markShown);

  session.on("newMessage", (message) => {
    const other = message.senderId === session.id ? message.receiverId : message.senderId;
    if (other === state.peer) {
      add(message);
      if (message.receiverId === session.id && !message.seen) {
        unmarked.add(message._id);
        if (onScreen()) markShown();
        else {
          state.unseen[other] = (state.unseen[other] || 0) + 1;
          renderContacts();
        }
      }
    } else if (message.senderId !== session.id) {
      state.unseen[other] = (state.unseen[other] || 0) + 1;
      if (!state.users.some((u) => u._id === other)) reloadSoon();
      renderContacts();
    }
  });
  // A seen mark moved: the peer's on this account's messages (ids are hex of one
  // length, so they compare as strings), or this account's own from another device.
  session.on("messages-seen", ({ readerId, senderId, upTo, unseen }) => {
    if (readerId === session.id) {
      state.unseen[senderId] = unseen ?? 0;
      for (const id of unmarked) if (id <= upTo && senderId === state.peer) unmarked.delete(id);
      renderContacts();
      return;
    }
    for (const message of state.messages) {
      if (message.senderId === session.id && message.receiverId === readerId &&
          message._id <= upTo) message.seen = true;
    }
    renderMessages();
  });
  session.on("getOnlineUsers", (ids) => {
    state.online = new Set(ids);
    if (ids.some((id) => id !== session.id && !state.users.some((u) => u._id === id))) {
      reloadSoon();
    }
    renderContacts();
  });
  session.on("userOnline", ({ userId }) => {
    state.online.add(userId);
    if (!state.users.some((u) => u._id === userId)) reloadSoon();
    renderContacts();
  });
  session.on("userOffline", ({ userId }) => {
    state.online.delete(userId);
    renderContacts();
  });

  session.onSignIn(() => loadContacts().catch(session.fail));
  session.onSignOut(() => {
    unmarked.clear();
    Object.assign(state, { users: [], unseen: {}, online: new Set(), peer: null, messages: [] });
    extra.clear();
    $("[data-field=peer]", slot).textContent = "Pick a user";
    for (const control of form.elements) control.disabled = true;
    renderContacts();
    renderMessages();
  });
  return {
    reload: () => loadContacts().catch(session.fail),
    addContact(account, label) {
      extra.set(account._id, { ...account, label });
      if (!state.users.some((u) => u._id === account._id)) {
        state.users.unshift(extra.get(account._id));
        renderContacts();
      }
    },
  };
}
