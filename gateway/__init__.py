"""The gateway: validates canonical events from the edges, stores each once, tracks specimens and serves the API.

It knows the wire contract (`contract`) and nothing of devices, profiles or edge internals.
"""
