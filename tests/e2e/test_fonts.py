"""Headless Chromium has a CJK and an emoji font: otherwise every Chinese string and emoji of the
demo pages is drawn as the same empty box (.notdef), and screenshots show nothing readable."""
from __future__ import annotations

# each text drawn on a canvas in the page's font, compared with a code point no font has (U+0378,
# unassigned): identical pixels mean the text came out as boxes
SAME_AS_A_BOX = """(text) => {
  const draw = (s) => {
    const canvas = document.createElement("canvas");
    canvas.width = 64; canvas.height = 32;
    const context = canvas.getContext("2d");
    context.font = "24px sans-serif";
    context.fillText(s, 4, 26);
    return Array.from(context.getImageData(0, 0, 64, 32).data).join(",");
  };
  return draw(text) === draw("\\u0378".repeat([...text].length));
}"""


async def test_chinese_and_emoji_do_not_render_as_boxes(server, page_factory):
    page = await page_factory()
    await page.goto(f"http://127.0.0.1:{server.port}/demo/")
    for text in ("中", "拼团", "😀"):
        assert not await page.evaluate(SAME_AS_A_BOX, text), \
            f"{text!r} renders as boxes: install fonts-noto-cjk and fonts-noto-color-emoji"
