"""Regenerate docs/img/notebook-display.png, the README's picture of the live display in a
notebook: a small MLP on the digits table trained in a real Jupyter kernel (nbclient +
ipykernel), the display's final HTML taken from the cell's output, put on a page in JupyterLab's
font and width, and captured in headless Chromium.

    .venv/bin/python docs/img/make_notebook_png.py
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import nbformat
from nbclient import NotebookClient
from PIL import Image
from playwright.sync_api import sync_playwright

HERE = Path(__file__).parent
CELL = """
import torch
from torch import nn
from sklearn.datasets import load_digits
from treino.engine import EarlyStopping, choose_display, fit

X, y = load_digits(return_X_y=True)
X, y = torch.tensor(X / 16, dtype=torch.float32), torch.tensor(y)
torch.manual_seed(0)
net = nn.Sequential(nn.Linear(64, 256), nn.ReLU(), nn.Linear(256, 10))
history = fit(net, (X[:1200], y[:1200]), (X[1200:], y[1200:]), loss="cross_entropy",
              optimizer="sgd", lr=0.1, epochs=30, batch_size=32,
              callbacks=[EarlyStopping(patience=None), choose_display("accuracy")])
"""
PAGE = """<!doctype html><html><head><meta charset="utf-8"><style>
body {{ margin: 0; background: #fff; color: rgba(0,0,0,.87); }}
.cell {{ padding: 14px 18px 10px 18px; width: 960px; }}
</style></head><body><div class="cell">{html}</div></body></html>"""

notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(CELL)])
NotebookClient(notebook, kernel_name="python3", timeout=600).execute()
shown = [o for o in notebook.cells[0].outputs if o.output_type == "display_data"]
assert len(shown) == 1, notebook.cells[0].outputs  # one area, updated in place
with tempfile.TemporaryDirectory() as tmp:
    page, shot = Path(tmp) / "display.html", Path(tmp) / "shot.png"
    page.write_text(PAGE.format(html=shown[0].data["text/html"]), encoding="utf-8")
    with sync_playwright() as pw:
        browser = pw.chromium.launch(
            executable_path="/usr/bin/chromium", args=["--no-sandbox", "--disable-gpu"]
        )
        tab = browser.new_page(viewport={"width": 1000, "height": 700}, device_scale_factor=1.5)
        tab.goto(page.resolve().as_uri())
        tab.locator(".cell").screenshot(path=str(shot))
        browser.close()
    image = Image.open(shot).convert("RGB")
    image = image.resize((1000, round(image.height * 1000 / image.width)), Image.LANCZOS)
    image.quantize(colors=128).save(HERE / "notebook-display.png", optimize=True)
print(HERE / "notebook-display.png")
