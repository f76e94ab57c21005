"""Chat: messages between riders, and between a rider and the captain of their ride."""
