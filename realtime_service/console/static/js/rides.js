// Rendering a ride for either party.
import { fullName, h, time } from "./dom.js";

export const OPEN_STATUSES = ["pending", "accepted", "ongoing"];
// The rider tells the OTP to the captain to start the ride: worth showing until then.
const OTP_STATUSES = ["pending", "accepted"];

function place(p) {
  if (!p) return "";
  const coords = `${Number(p.lat).toFixed(5)}, ${Number(p.lng).toFixed(5)}`;
  return p.address ? `${p.address} (${coords})` : coords;
}

function party(label, account) {
  if (!account) return null;
  const vehicle = account.vehicle;
  return h("div", {}, `${label}: `, h("strong", { dataset: { field: `${label.toLowerCase()}-name` } },
    fullName(account)),
  vehicle ? ` · ${vehicle.color} ${vehicle.vehicleType} ${vehicle.plate}` : "");
}

/** The rider's line on the search for a captain: `search` = {round, offered} of the
 *  last round that offered the ride (round 0: none yet, the search waits). */
function searchLine(ride, search) {
  if (ride.status === "expired") {
    return h("div", { class: "notice", dataset: { field: "search" } },
      "No captain accepted in time. Request again when you are ready.");
  }
  if (ride.status !== "pending" || !search) return null;
  const text = search.offered
    ? `Searching: round ${search.round}, offered to ${search.offered} captain(s)`
    : "Searching: no captain nearby yet, still looking";
  return h("div", { class: "muted", dataset: { field: "search" } }, text);
}

/** Fill `container` with the ride. `extra` = {captainLocation, search}. */
export function renderRide(container, ride, extra = {}) {
  const rows = [
    h("div", { class: "row spread" },
      h("span", { class: "pill", dataset: { status: ride.status, field: "ride-status" } },
        ride.status),
      h("code", { class: "small", dataset: { field: "ride-id" } }, ride._id)),
    h("div", {}, "From ", place(ride.pickup)),
    h("div", {}, "To ", place(ride.destination)),
    h("div", {}, `${ride.vehicleType} · ₹${ride.fare} · ${ride.distanceKm} km · `,
      `${Math.round(ride.durationMin)} min`),
  ];
  const search = searchLine(ride, extra.search);
  if (search) rows.push(search);
  if (ride.otp && OTP_STATUSES.includes(ride.status)) {
    rows.push(h("div", { class: "otp" }, "OTP ", h("strong", { dataset: { field: "otp" } },
      ride.otp), h("span", { class: "muted small" }, " tell it to your captain")));
  }
  if (typeof ride.user === "object") rows.push(party("Rider", ride.user));
  if (ride.captain && typeof ride.captain === "object") rows.push(party("Captain", ride.captain));
  const location = extra.captainLocation;
  if (location) {
    rows.push(h("div", { dataset: { field: "captain-location" } },
      `Captain at ${Number(location.lat).toFixed(5)}, ${Number(location.lng).toFixed(5)} `,
      h("span", { class: "muted small" }, `(${time()})`)));
  }
  container.replaceChildren(...rows);
  container.hidden = false;
}
