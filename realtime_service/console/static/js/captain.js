// The captain panel: duty status, location, incoming requests, the current ride and
// its call.
import { $, busy, formValues, h, show, time } from "./dom.js";
import { OPEN_STATUSES, renderRide } from "./rides.js";

export function mountCaptain(session, chat, call) {
  const panel = session.panel;
  const requests = new Map(); // rideId -> ride
  const list = $("[data-field=requests]", panel);
  const startForm = $("[data-form=start]", panel);
  const locationForm = $("[data-form=location]", panel);
  const statusButton = $("[data-action=toggle-status]", panel);
  let current = null;

  function renderStatus() {
    const status = session.account?.status || "inactive";
    $("[data-field=status]", panel).textContent = status;
    statusButton.textContent = status === "active" ? "Go inactive" : "Go active";
  }

  function renderRequests() {
    const items = [...requests.values()].map((ride) => {
      const item = h("li", { class: "ride-card", dataset: { ride: ride._id } });
      const card = h("div");
      renderRide(card, ride);
      const countdown = h("div", { class: "muted small", dataset: { field: "countdown" } });
      if (ride.offer) countdown.dataset.expiresAt = ride.offer.expiresAt;
      item.append(card, countdown, h("div", { class: "row" },
        h("button", { type: "button", dataset: { action: "accept" },
          onclick: (event) => accept(event.currentTarget, ride._id) }, "Accept"),
        h("button", { type: "button", class: "secondary", dataset: { action: "decline-ride" },
          onclick: (event) => decline(event.currentTarget, ride._id) }, "Decline"),
        h("button", { type: "button", class: "secondary",
          onclick: () => { requests.delete(ride._id); renderRequests(); } }, "Dismiss")));
      return item;
    });
    list.replaceChildren(...items);
    tickOffers();
    $("[data-field=request-count]", panel).textContent = String(requests.size);
    const tabBadge = $("#tabs [data-tab=captain] [data-requests]");
    tabBadge.textContent = String(requests.size);
    show(tabBadge, requests.size > 0);
    show($("[data-box=requests] .empty", panel), requests.size === 0);
  }

  // Each offer's countdown to its `offer.expiresAt`, ticking while any is listed; the
  // server's `ride-offer-expired` then takes it off the list.
  let ticking = null;
  function tickOffers() {
    for (const el of list.querySelectorAll("[data-field=countdown][data-expires-at]")) {
      const left = Math.ceil((Date.parse(el.dataset.expiresAt) - Date.now()) / 1000);
      el.textContent = left > 0 ? `Offer ends in ${left} s` : "Offer expired";
    }
    if (requests.size && !ticking) ticking = setInterval(tickOffers, 1000);
    if (!requests.size && ticking) {
      clearInterval(ticking);
      ticking = null;
    }
  }

  /** Take an offer off the list, saying why when `note` is given. */
  function dropOffer(rideId, note) {
    if (!requests.delete(rideId)) return;
    renderRequests();
    const noteEl = $("[data-field=offer-note]", panel);
    noteEl.textContent = note ? `${note} ${time()}` : "";
    show(noteEl, Boolean(note));
  }

  function setCurrent(ride) {
    if (ride && ride.status !== current?.status) chat.reload(); // who it may chat with
    current = ride;
    call.setRide(ride);
    const box = $("[data-field=current]", panel);
    if (ride) renderRide(box, ride);
    else box.replaceChildren(h("p", { class: "muted" }, "None"));
    const status = ride?.status;
    show(startForm, status === "accepted");
    show($("[data-action=end]", panel), status === "ongoing");
    show($("[data-action=drive]", panel), status === "accepted" || status === "ongoing");
    show($("[data-action=cancel]", panel), status === "accepted");
  }

  function act(button, path, body) {
    return busy(button, async () => {
      const data = await session.realtime("POST", `/rides/${current._id}/${path}`, { body });
      startForm.reset();
      setCurrent(data.ride);
      session.error("");
    }, session.fail);
  }

  function accept(button, rideId) {
    return busy(button, async () => {
      try {
        const data = await session.realtime("POST", `/rides/${rideId}/accept`);
        setCurrent(data.ride);
        session.error("");
      } finally {
        requests.delete(rideId);
        renderRequests();
      }
    }, session.fail);
  }

  function decline(button, rideId) {
    // Off the list at once: the round's end (`ride-offer-expired`) may come first.
    dropOffer(rideId, "You declined the ride.");
    return busy(button, async () => {
      await session.realtime("POST", `/rides/${rideId}/decline`);
      session.error("");
    }, session.fail);
  }

  statusButton.addEventListener("click", (event) => busy(event.currentTarget, async () => {
    const status = session.account?.status === "active" ? "inactive" : "active";
    const data = await session.auth("PATCH", "/captains/status", { body: { status } });
    session.setAccount(data.captain);
    renderStatus();
  }, session.fail));

  function sendLocation() {
    const values = formValues(locationForm);
    const location = { lat: Number(values.lat), lng: Number(values.lng) };
    const ack = $("[data-field=location-ack]", panel);
    if (!session.socket?.connected) {
      session.error("Socket not connected");
      return;
    }
    session.socket.emit("update-location-captain", { location }, (reply) => {
      ack.textContent = reply?.ok === false ? `Refused: ${reply.message}`
        : `Location sent ${time()}`;
    });
  }

  locationForm.addEventListener("submit", (event) => {
    event.preventDefault();
    sendLocation();
  });

  // "Drive": every second, cover a fifth of the way to the pickup (accepted ride) or the
  // destination (ongoing ride) and send the location, for a live demo of captain-location.
  let driving = null;
  function stopDriving() {
    clearInterval(driving);
    driving = null;
    driveButton.textContent = "Drive";
  }
  function driveStep() {
    const target = current?.status === "accepted" ? current.pickup
      : current?.status === "ongoing" ? current.destination : null;
    if (!target) {
      stopDriving();
      return;
    }
    const step = (from, to) => {
      const next = Number(from) + (to - Number(from)) / 5;
      return (Math.abs(to - next) < 0.00005 ? to : next).toFixed(6);
    };
    locationForm.lat.value = step(locationForm.lat.value, target.lat);
    locationForm.lng.value = step(locationForm.lng.value, target.lng);
    sendLocation();
  }
  const driveButton = $("[data-action=drive]", panel);
  driveButton.addEventListener("click", () => {
    if (driving) {
      stopDriving();
      return;
    }
    driveButton.textContent = "Stop driving";
    driveStep();
    driving = setInterval(driveStep, 1000);
  });

  $("[data-action=near-pickup]", panel).addEventListener("click", () => {
    // Convenience for a one-page demo: stand ~50 m from the rider panel's pickup.
    const pickup = $("#panel-rider [data-form=fare]");
    locationForm.lat.value = (Number(pickup.pickupLat.value) + 0.0004).toFixed(6);
    locationForm.lng.value = (Number(pickup.pickupLng.value) + 0.0004).toFixed(6);
  });

  startForm.addEventListener("submit", (event) => {
    event.preventDefault();
    act(event.submitter, "start", { otp: startForm.otp.value.trim() });
  });
  $("[data-action=end]", panel).addEventListener("click", (event) =>
    act(event.currentTarget, "end"));
  $("[data-action=cancel]", panel).addEventListener("click", (event) =>
    act(event.currentTarget, "cancel"));

  session.on("new-ride", (ride) => {
    requests.set(ride._id, ride);
    renderRequests();
  });
  session.on("ride-taken", ({ rideId }) => dropOffer(rideId, "Another captain took the ride."));
  session.on("ride-offer-expired", ({ rideId }) => dropOffer(rideId, "An offer expired."));
  session.on("ride-cancelled", (ride) => {
    dropOffer(ride._id, "The rider cancelled the ride.");
    if (current && current._id === ride._id) setCurrent(ride);
  });
  for (const event of ["ride-confirmed", "ride-started", "ride-ended"]) {
    session.on(event, (ride) => {
      if (!current || current._id === ride._id) setCurrent(ride);
    });
  }

  session.onSignIn(async () => {
    renderStatus();
    try {
      const data = await session.realtime("GET", "/rides", { query: { limit: 5 } });
      const open = data.rides.find((r) => OPEN_STATUSES.includes(r.status));
      if (open && !current) setCurrent(open);
    } catch (error) {
      session.fail(error);
    }
  });
  session.onSignOut(() => {
    stopDriving();
    requests.clear();
    renderRequests();
    show($("[data-field=offer-note]", panel), false);
    setCurrent(null);
    renderStatus();
  });
  renderRequests();
  setCurrent(null);
}
