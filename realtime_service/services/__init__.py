"""The realtime service layer: rides, messages and captain locations (rules, no requests)."""
