"""Recipes built on replicated containers: a key-value store with expiry, leases, rate limits
and a tool registry."""
