"""The Uber clone's contract: its /maps routes, /rides aliases and ride payloads."""
