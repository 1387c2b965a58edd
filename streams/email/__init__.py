"""Email: provider events (events), the delivery status (status), outbound messages (message),
the sender (sender), provider events applied (tracking), and the agents (agents)."""
