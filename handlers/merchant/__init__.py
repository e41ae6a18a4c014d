"""The merchant back-office API (`/api/merchant`): every handler declares the permission each method needs."""
