"""HTTP and WebSocket handlers: parse, authorize (once per audience, in handlers/base.py), call a service, render."""
