"""The video-meeting app's contract (a React "Zoom clone": accounts by username, meetings
by a code of the users' choosing, WebRTC signaling and chat over Socket.IO, a history):
its /api/v1/users routes and its socket events, on the calls domain."""
