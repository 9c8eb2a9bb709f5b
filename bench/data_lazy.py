"""Lazy image folders: 10k 28x28 PNGs read by treino's lazy path (data.memory_budget forces it)
with 0 and 1 DataLoader workers, against the same folder decoded into memory and against a
hand-written per-image Dataset + DataLoader loop. Same MLP, Adam, batch 128, no validation.
Writes the "Lazy image folders" section of bench/data_results.md.

    .venv/bin/python -m bench.data_lazy
    BENCH_PNGS=2000 .venv/bin/python -m bench.data_lazy   # a quick look
"""

from __future__ import annotations

import os
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader, Dataset

from bench.data import BATCH, EPOCHS, OUT, PNGS, mlp, pixels

HEADING = "## Lazy image folders"


class HandDataset(Dataset):
    """What a user writes by hand: one PNG per __getitem__, default collate."""

    def __init__(self, paths: list[Path], y: torch.Tensor, mean: float, std: float) -> None:
        self.paths, self.y, self.mean, self.std = paths, y, mean, std

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, torch.Tensor]:
        from PIL import Image

        with Image.open(self.paths[i]) as img:
            x = torch.from_numpy(np.asarray(img.convert("L"), dtype=np.float32) / 255.0)
        return (x[None] - self.mean) / self.std, self.y[i]


def hand_loop(paths: list[Path], y: torch.Tensor, workers: int, threads: int) -> list[float]:
    """Seconds of each epoch of a plain DataLoader loop (MLP, Adam, cross-entropy), at the
    thread count treino.fit chose, so the two differ only in how the data is read."""
    torch.set_num_threads(threads)
    model, loss_fn = mlp(), nn.CrossEntropyLoss()
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    data = HandDataset(paths, y.long(), 0.5, 0.25)
    loader = DataLoader(data, batch_size=BATCH, shuffle=True, num_workers=workers,
                        persistent_workers=workers > 0, generator=torch.Generator().manual_seed(0))  # fmt: skip
    times = []
    for _ in range(EPOCHS):
        start = time.perf_counter()
        for xb, yb in loader:
            loss = loss_fn(model(xb), yb)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
        times.append(time.perf_counter() - start)
    return times


def treino_epochs(source: object) -> tuple[list[float], int]:
    import treino

    history = treino.fit(mlp(), source, loss="cross_entropy", optimizer="adam", epochs=EPOCHS,
                         batch_size=BATCH, device="cpu", train_metrics=False, task="multiclass")  # fmt: skip
    return [row["seconds"] for row in history.epochs], history.threads or torch.get_num_threads()


def load(folder: Path, **kw: object) -> tuple[float, object]:
    from treino.config import DataConfig
    from treino.data.load import load as load_data

    start = time.perf_counter()
    data = load_data(DataConfig(source=str(folder), **kw), torch.Generator().manual_seed(0), 0)  # type: ignore[arg-type]
    return time.perf_counter() - start, data


def row(name: str, read: float, times: list[float], threads: int) -> str:
    later = statistics.median(times[1:]) if len(times) > 1 else times[0]
    return f"| {name} | {threads} | {read:.2f} | {times[0]:.2f} | {later:.2f} | {read + sum(times):.2f} |"


def main() -> None:
    from PIL import Image

    uptime = subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()
    lines = [HEADING, "", f"{PNGS} PNGs (28x28, grayscale), {EPOCHS} epochs, batch {BATCH}, MLP 784-256-10, "
             f"{os.cpu_count()} cores, {torch.get_num_threads()} torch threads; `uptime` before: {uptime}", "",
             "| path | torch threads | read (s) | first epoch (s) | later epochs (s/epoch) | total (s) |",
             "| --- | --- | --- | --- | --- | --- |"]  # fmt: skip
    x, y = pixels(PNGS)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "png"
        for i in range(PNGS):
            (root / str(y[i])).mkdir(parents=True, exist_ok=True)
            Image.fromarray(x[i]).save(root / str(y[i]) / f"{i}.png")
        read, data = load(root)
        times, threads = treino_epochs((data.train.x, data.train.y))  # type: ignore[attr-defined]
        lines.append(row("in memory (decoded once)", read, times, threads))
        print(lines[-1], flush=True)
        for workers in (0, 1):
            read, data = load(root, memory_budget="100KB", workers=workers)
            source = data.train.source(BATCH, torch.Generator().manual_seed(0), "multiclass")  # type: ignore[attr-defined]
            times, threads = treino_epochs(source)
            lines.append(row(f"treino lazy, workers {workers}", read, times, threads))
            print(lines[-1], flush=True)
        paths = sorted(root.rglob("*.png"))[: len(data.train)]  # type: ignore[attr-defined]
        labels = torch.tensor([int(p.parent.name) for p in paths])
        for workers in (0, 1):
            times = hand_loop(paths, labels, workers, threads)
            lines.append(row(f"hand-written DataLoader, workers {workers}", 0.0, times, threads))
            print(lines[-1], flush=True)
    lines += ["", f"`uptime` after: {subprocess.run(['uptime'], capture_output=True, text=True).stdout.strip()}", "",
              "read: decode into memory, or for the lazy path the header scan plus the mean/std sample (at most "
              "2000 train images). The hand-written loop decodes one image per `__getitem__` and collates; treino's "
              "lazy path decodes a whole batch per `__getitems__` call."]  # fmt: skip
    text = OUT.read_text() if OUT.exists() else ""
    kept = text.split(HEADING)[0].rstrip()
    OUT.write_text((kept + "\n\n" if kept else "") + "\n".join(lines) + "\n")
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()
