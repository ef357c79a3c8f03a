"""Reference adapters: worked examples written only against asyncbridge's public API.

- :mod:`asyncbridge.adapters.perfect21`: the Perfect21 multi-agent tool's
  orchestrator, parallel executor, CLI wrapper and REST API, rebuilt.
"""
