"""The auth service: accounts (users and captains), tokens, profiles, activity, media."""
