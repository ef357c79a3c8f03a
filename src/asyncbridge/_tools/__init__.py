"""Layer 3, the tools built on the engine.

The decorators, retry, DualInterface, iterator and context-manager bridges,
batches, the loop watch, the IPython extension and the built-in instrumentation
hooks.
"""
