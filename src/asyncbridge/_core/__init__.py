"""Layer 0, the core: errors, settings, argument checks, wrapping, detection.

Also the thread state, the chain of waits and the instrumentation registry. Imports
nothing of asyncbridge outside this package.
"""
