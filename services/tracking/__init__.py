"""Parcel tracking: a shipped order's route from the shop's tracking provider (kuaidi100 first,
behind one interface in providers.py), cached per tracking number and refreshed at most once per
TTL across processes (routes.py); a delivered parcel brings the order's auto-confirm forward."""
from services.tracking.routes import order_tracking

__all__ = ["order_tracking"]
