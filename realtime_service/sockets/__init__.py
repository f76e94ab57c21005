"""Socket.IO infrastructure: the namespace, who a socket is, presence, pushes and revocation."""
