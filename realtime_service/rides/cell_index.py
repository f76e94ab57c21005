"""The in-memory captain index of one process (realtime_service.rides.captain_index):
positions bucketed in fixed cells of CELL_DEGREES of latitude and longitude per
vehicle type, and the nearest-captains query as a ring search: the pickup's cell, then
the ring of cells around it, and so on, stopping as soon as the captains found are
nearer than anything a further ring can hold (BENCHMARKS.md has its timings).

Distances are equirectangular at the pickup's latitude: within a city, well under 1 %
off the great circle, and the order is what matters. Not for the poles or across the
antimeridian.
"""
import heapq
import math
import time

CELL_DEGREES = 0.0025  # about 280 m of latitude (BENCHMARKS.md: the sizes measured)
KM_PER_DEGREE = 111.195
ROW = 1 << 16  # a cell's key is row * ROW + column (|column| < 18,000 < ROW / 2)


def cell_of(lat, lng):
    return math.floor(lat / CELL_DEGREES) * ROW + math.floor(lng / CELL_DEGREES)


def ring_keys(row, col, ring):
    """The keys of the cells at Chebyshev distance `ring` from the cell (row, col)."""
    if ring == 0:
        return (row * ROW + col,)
    top, bottom = (row + ring) * ROW, (row - ring) * ROW
    keys = [base + c for base in (top, bottom) for c in range(col - ring, col + ring + 1)]
    keys += [r * ROW + c for r in range(row - ring + 1, row + ring)
             for c in (col - ring, col + ring)]
    return keys


class Entry:
    __slots__ = ("vehicle_type", "key", "lat", "lng", "seen")

    def __init__(self, vehicle_type, key, lat, lng, seen):
        self.vehicle_type, self.key, self.lat, self.lng, self.seen = (
            vehicle_type, key, lat, lng, seen)


class MemoryIndex:
    """Captain ids (strings) -> latest position, in cells per vehicle type; the open
    ride of each captain that has one."""

    available = True

    def __init__(self, stale_seconds):
        self.stale = stale_seconds
        self.entries = {}  # captain id -> Entry
        self.grids = {}  # vehicle type -> {cell key: {captain id: Entry}}
        self.counts = {}  # vehicle type -> how many captains of it are indexed
        self.rides = {}  # captain id -> (ride id, rider id)
        self.rides_loaded, self.touched = False, None

    def add(self, captain_id, vehicle_type, lat, lng, seen):
        """A captain (re)connected, with its stored position or none (lat None): taken
        unless a fresher report of the same vehicle type is indexed (another connection
        of the captain, a recovered one)."""
        entry = self.entries.get(captain_id)
        if (entry is not None and entry.vehicle_type == vehicle_type
                and (lat is None or entry.seen >= seen)):
            return
        self.remove(captain_id)
        if lat is not None:
            self.update(captain_id, vehicle_type, lat, lng, seen)

    def update(self, captain_id, vehicle_type, lat, lng, seen):
        """Record a report; return the captain's open ride or None."""
        key = cell_of(lat, lng)
        entry = self.entries.get(captain_id)
        if entry is None:
            entry = self.entries[captain_id] = Entry(vehicle_type, key, lat, lng, seen)
            self._place(captain_id, entry)
        else:
            if entry.key != key or entry.vehicle_type != vehicle_type:
                self._unplace(captain_id, entry)
                entry.vehicle_type, entry.key = vehicle_type, key
                self._place(captain_id, entry)
            entry.lat, entry.lng, entry.seen = lat, lng, seen
        return self.rides.get(captain_id)

    def _place(self, captain_id, entry):
        cells = self.grids.setdefault(entry.vehicle_type, {})
        cells.setdefault(entry.key, {})[captain_id] = entry
        self.counts[entry.vehicle_type] = self.counts.get(entry.vehicle_type, 0) + 1

    def _unplace(self, captain_id, entry):
        cells = self.grids[entry.vehicle_type]
        members = cells[entry.key]
        del members[captain_id]
        if not members:
            del cells[entry.key]
        self.counts[entry.vehicle_type] -= 1

    def remove(self, captain_id, _vehicle_type=None):
        """The captain went offline (its open ride, if any, stays mapped)."""
        entry = self.entries.pop(captain_id, None)
        if entry is not None:
            self._unplace(captain_id, entry)

    def position(self, captain_id):
        entry = self.entries.get(captain_id)
        return None if entry is None else (entry.lat, entry.lng, entry.seen)

    def positions(self, captain_ids):
        """{id: (lat, lng)} of those of the captains that are indexed."""
        entries = self.entries
        return {c: (entries[c].lat, entries[c].lng) for c in captain_ids if c in entries}

    def nearest(self, lat, lng, radius_km, vehicle_type, limit, exclude=frozenset(), now=None):
        """Ids of up to `limit` fresh captains without an open ride within `radius_km`,
        nearest first, not in `exclude`."""
        cells = self.grids.get(vehicle_type)
        if not cells or limit <= 0:
            return []
        fresh_after = (time.time() if now is None else now) - self.stale
        kx = KM_PER_DEGREE * math.cos(math.radians(lat))
        ring_km = CELL_DEGREES * min(kx, KM_PER_DEGREE)  # the least extent of a cell, here
        rings = math.ceil(radius_km / ring_km) + 1
        found = []

        def consider(members):
            for captain_id, entry in members.items():
                if entry.seen < fresh_after or captain_id in self.rides or captain_id in exclude:
                    continue
                dx, dy = (entry.lng - lng) * kx, (entry.lat - lat) * KM_PER_DEGREE
                squared = dx * dx + dy * dy
                if squared <= within:
                    found.append((squared, captain_id))

        within = radius_km * radius_km
        if self.counts[vehicle_type] < (2 * rings - 1) ** 2:  # fewer captains than cells
            for members in cells.values():
                consider(members)
            return [c for _, c in heapq.nsmallest(limit, found)]
        row, col = math.floor(lat / CELL_DEGREES), math.floor(lng / CELL_DEGREES)
        for ring in range(rings):
            for key in ring_keys(row, col, ring):
                members = cells.get(key)
                if members:
                    consider(members)
            # Outside the rings searched so far, a captain is at least ring * ring_km away.
            if len(found) >= limit:
                nearest = heapq.nsmallest(limit, found)
                if nearest[-1][0] <= (ring * ring_km) ** 2:
                    return [c for _, c in nearest]
        return [c for _, c in heapq.nsmallest(limit, found)]

    def set_ride(self, captain_id, ride):
        if self.touched is not None:
            self.touched.add(captain_id)
        if ride is None:
            self.rides.pop(captain_id, None)
        else:
            self.rides[captain_id] = ride

    def ride_of(self, captain_id):
        return self.rides.get(captain_id)

    def rides_need_loading(self):
        """Whether the open rides were never read from the database in this process."""
        return not self.rides_loaded

    def begin_loading(self):
        """The open rides are being read from the database: what changes meanwhile
        wins over that read (`load_rides`)."""
        self.touched = set()

    def load_rides(self, rides):
        """The open rides read from the database ({captain id: (ride id, rider id)}),
        but for the captains whose ride changed since `begin_loading`; return those."""
        touched = self.touched or set()
        self.rides = {**{c: r for c, r in rides.items() if c not in touched},
                      **{c: self.rides[c] for c in touched if c in self.rides}}
        self.touched, self.rides_loaded = None, True
        return touched

    def sweep(self, now=None):
        """Nothing to sweep: disconnections remove this process's entries."""
        return 0
