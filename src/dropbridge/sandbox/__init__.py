"""Local emulators of the stores and suppliers dropbridge talks to: real HTTP servers on localhost.

Tests and `dropbridge demo` run the real connector code against them. `server.start_server` runs any
ASGI app in a background thread; each emulator module documents the API it stands for.
"""
