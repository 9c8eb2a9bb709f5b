"""Regenerate docs/img/report.png, the README's picture of a report: a big MLP on the small
diabetes table with early stopping off (so it overfits), its report.html opened in headless
Chromium, the top of the page captured and shrunk.

    .venv/bin/python docs/img/make_report_png.py
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from PIL import Image
from playwright.sync_api import sync_playwright

import treino

HERE = Path(__file__).parent
CONFIG = {
    "name": "diabetes-big-mlp",
    "data": {"source": "diabetes"},
    "model": {"hidden": [256, 256]},
    "optimizer": {"lr": 0.01},
    "train": {"epochs": 40, "batch_size": 16, "early_stopping": None},
    "log": {"progress": False},
}

with tempfile.TemporaryDirectory() as tmp:
    run = treino.train(CONFIG, out=Path(tmp) / CONFIG["name"], quiet=True)
    shot = Path(tmp) / "shot.png"
    with sync_playwright() as pw:
        browser = pw.chromium.launch(
            executable_path="/usr/bin/chromium", args=["--no-sandbox", "--disable-gpu"]
        )
        page = browser.new_page(viewport={"width": 1100, "height": 1180})
        page.goto((run.dir / "report.html").resolve().as_uri())
        page.screenshot(path=str(shot))
        browser.close()
    image = Image.open(shot).convert("RGB")
    image = image.resize((800, round(image.height * 800 / image.width)), Image.LANCZOS)
    image.quantize(colors=128).save(HERE / "report.png", optimize=True)
print(HERE / "report.png")
