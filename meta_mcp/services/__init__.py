"""Services used by the meta tools: search (later catalog, sandbox, agent, secrets, state)."""
