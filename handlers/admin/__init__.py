"""The platform admin API (`/api/admin`): shops, admins, platform settings, metrics, test pushes."""
