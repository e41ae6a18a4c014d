"""Channel names of API.md. `member:` and `shop:…:orders` are private; the rest are public."""
import re

CHANNEL = re.compile(r"^(?:(?:team|activity|goods|flash):\d{1,18}|member:(\d{1,18})|shop:(\d{1,18}):orders)$")
