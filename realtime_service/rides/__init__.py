"""Rides: fares, requests dispatched to nearby captains, the ride's life and the
captains' live locations."""
