"""Containers: the `get` / `update` / `subscribe` / `version` API over a value, lock-based
(`LockedContainer`) or replicated (`ReplicatedContainer`), and the handles updaters receive."""
