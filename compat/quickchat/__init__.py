"""QuickChat's contract: its /api/auth and /api/messages routes and shapes."""
