"""Layer 2, the engine: pools, portals, the executor registry, routing, bridges.

Sync → async (`run_sync`), async → sync (`run_in_thread`), pinned sessions and
greenlet re-entry. Imports the core and the backends only.
"""
