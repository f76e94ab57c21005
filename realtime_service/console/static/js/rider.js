// The rider panel: fares, ride request, the ride's live state, and its call.
import { $, busy, formValues, h, show } from "./dom.js";
import { OPEN_STATUSES, renderRide } from "./rides.js";

export function mountRider(session, chat, call) {
  const panel = session.panel;
  const fareForm = $("[data-form=fare]", panel);
  const requestForm = $("[data-form=request]", panel);
  const card = $("[data-field=ride]", panel);
  let ride = null;
  let extra = {};

  function place(values, prefix) {
    return {
      lat: Number(values[`${prefix}Lat`]),
      lng: Number(values[`${prefix}Lng`]),
      address: values[`${prefix}Address`] || "",
    };
  }

  function render() {
    call.setRide(ride);
    if (!ride) {
      card.replaceChildren();
      show(card, false);
      return;
    }
    renderRide(card, ride, extra);
    if (OPEN_STATUSES.slice(0, 2).includes(ride.status)) {
      card.append(h("button", {
        type: "button", class: "danger", dataset: { action: "cancel-ride" },
        onclick: (event) => busy(event.currentTarget, async () => {
          const data = await session.realtime("POST", `/rides/${ride._id}/cancel`);
          update(data.ride);
        }, session.fail),
      }, "Cancel ride"));
    }
  }

  function update(next, more = {}) {
    // Pushes carry the ride without the expanded extras a previous push may have had.
    ride = { ...(ride && ride._id === next._id ? ride : {}), ...next };
    if (ride.captain && typeof ride.captain === "object") chat.addContact(ride.captain, "captain");
    extra = { ...extra, ...more };
    render();
  }

  fareForm.addEventListener("submit", (event) => {
    event.preventDefault();
    busy(event.submitter, async () => {
      const values = formValues(fareForm);
      const query = {
        pickupLat: values.pickupLat, pickupLng: values.pickupLng,
        destinationLat: values.destinationLat, destinationLng: values.destinationLng,
      };
      const data = await session.realtime("GET", "/rides/fare", { query });
      $("[data-field=trip]", requestForm).textContent = `${data.distanceKm} km by road`;
      const minutes = (type) => Math.round((data.durations || {})[type] ?? data.durationMin);
      const choices = Object.entries(data.fares).map(([type, fare], index) =>
        h("label", { class: "fare" },
          h("input", { type: "radio", name: "vehicleType", value: type,
            checked: type === "car" || (index === 0 && !("car" in data.fares)) }),
          h("span", {}, type), h("strong", { dataset: { fare: type } }, `₹${fare}`),
          h("span", { class: "muted small" }, `${minutes(type)} min`)));
      $("[data-field=fares]", requestForm).replaceChildren(...choices);
      show(requestForm, true);
      session.error("");
    }, session.fail);
  });

  requestForm.addEventListener("submit", (event) => {
    event.preventDefault();
    busy(event.submitter, async () => {
      const values = formValues(fareForm);
      const body = {
        pickup: place(values, "pickup"),
        destination: place(values, "destination"),
        vehicleType: formValues(requestForm).vehicleType,
      };
      const data = await session.realtime("POST", "/rides", { body });
      ride = null;
      extra = {};
      const offered = data.dispatchedTo; // the first round's captains, 0: none yet
      update(data.ride, { search: { round: offered ? 1 : 0, offered } });
      session.error("");
    }, session.fail);
  });

  for (const event of ["ride-confirmed", "ride-started", "ride-ended", "ride-cancelled"]) {
    session.on(event, (data) => update(data, { search: undefined }));
  }
  // The search for a captain: a round offered the ride, or it ended with no captain.
  session.on("ride-searching", ({ rideId, round, offered }) => {
    if (ride && ride._id === rideId) update(ride, { search: { round, offered } });
  });
  session.on("ride-expired", ({ rideId }) => {
    if (ride && ride._id === rideId) update({ _id: rideId, status: "expired" });
  });
  session.on("captain-location", (data) => {
    if (ride && data.rideId === ride._id) {
      extra.captainLocation = data.location;
      render();
    }
  });

  session.onSignIn(async () => {
    // Show a ride still open from an earlier visit.
    try {
      const data = await session.realtime("GET", "/rides", { query: { limit: 5 } });
      const open = data.rides.find((r) => OPEN_STATUSES.includes(r.status));
      if (open && !ride) update(open);
    } catch (error) {
      session.fail(error);
    }
  });
  session.onSignOut(() => {
    ride = null;
    extra = {};
    render();
    show(requestForm, false);
  });
}
