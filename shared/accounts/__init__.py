"""Accounts: riders (users) and captains, their sessions, tokens and activity. Both
services use it; the auth service serves its routes."""
