"""Open a self-contained page in headless Chromium (playwright): its images, errors, requests."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--no-first-run"]  # fmt: skip


def open_page(path: Path) -> dict[str, list]:
    """{'images': [(alt, naturalWidth)], 'problems': [console errors], 'requests': [urls]};
    skips the calling test when Chromium or playwright is missing."""
    if CHROMIUM is None:
        pytest.skip("chromium is not installed (apt-get install chromium)")
    playwright = pytest.importorskip("playwright.sync_api", reason="playwright is in the dev extra")
    found: dict[str, list] = {"problems": [], "requests": []}
    with playwright.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=FLAGS)
        try:
            page = browser.new_page()
            page.on("console", lambda m: found["problems"].append(m.text) if m.type == "error" else None)
            page.on("pageerror", lambda e: found["problems"].append(str(e)))
            page.on("request", lambda r: found["requests"].append(r.url))
            url = path.resolve().as_uri()
            page.goto(url, wait_until="load")
            found["images"] = page.evaluate("Array.from(document.images).map(i => [i.alt, i.naturalWidth])")
            found["url"] = [url]
        finally:
            browser.close()
    return found
