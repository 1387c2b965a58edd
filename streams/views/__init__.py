"""Recording views: counters and watch progress as pure rules (rules), and the agent that keeps
them in Faust tables and PostgreSQL (agents)."""
