"""Merchant-written rich text (goods descriptions, campaign pages) is shown to shoppers as HTML,
so it is cleaned on the way in: formatting, images and links stay; scripts, event handlers and
`javascript:` URLs go (Ammonia's allow-list, via nh3)."""
import nh3

_TAGS = nh3.ALLOWED_TAGS | {"span", "section", "font"}
_ATTRIBUTES = {**nh3.ALLOWED_ATTRIBUTES, "*": {"style", "class"}, "img": {"src", "alt", "width", "height"},
               "font": {"color", "size"}}


def clean(html: str) -> str:
    return nh3.clean(html, tags=_TAGS, attributes=_ATTRIBUTES, url_schemes={"http", "https"})
