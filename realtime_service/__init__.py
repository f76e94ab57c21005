"""The realtime service: authenticated Socket.IO connections, presence, chat and rides."""
