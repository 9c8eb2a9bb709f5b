"""Image folders too big for memory (over data.memory_budget decoded): only the headers are read
up front (mode, size; an unreadable file fails or is skipped as when decoding), and the pixels
are decoded a whole batch at a time by a DataLoader's workers, every epoch, through the one
decoder (decode.py) that in-memory images and prediction use."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset

from treino.batches.source import LoopShuffled
from treino.config import ImageConfig
from treino.data.decode import READ_ERRORS, channels_of, read_image, reason, unreadable
from treino.errors import DataError

STATS_SAMPLE = 2000  # train images whose pixels give the per-channel mean/std (all when fewer)
READ_BYTES = 64 * 10**6  # decoded float32 bytes of one evaluation or statistics batch, at most
PREFETCH = 4  # batches each worker keeps ready ahead of the loop
FLOAT_BYTES = 4  # decoded pixels are float32


@dataclass
class LazyImages:
    """Images left on disk (their headers read), as `Images` holds decoded ones: the files, their
    integer labels, the class names and the (C, H, W) every file is decoded to."""

    paths: list[Path]
    y: np.ndarray
    classes: list[str]
    shape: tuple[int, int, int]  # (C, H, W) after conversion and resizing
    resize: bool  # data.image.size was given: every image is resized to it
    fixed: np.ndarray | None = None  # split codes, as in Images
    notes: list[str] | None = None

    @property
    def nbytes(self) -> int:
        return len(self.paths) * int(np.prod(self.shape)) * FLOAT_BYTES


def decoded_bytes(paths: list[Path], cfg: ImageConfig) -> int:
    """The float32 bytes these files would take decoded, estimated from the first header that
    reads (0 when none does: decoding then reports the unreadable files)."""
    from PIL import Image

    for path in paths:
        try:
            with Image.open(path) as img:
                mode, (width, height) = img.mode, img.size
        except READ_ERRORS:
            continue
        channels = channels_of({mode}, cfg.channels)
        height, width = cfg.size if cfg.size is not None else (height, width)
        return len(paths) * channels * height * width * FLOAT_BYTES
    return 0


def scan(
    paths: list[Path],
    labels: np.ndarray,
    classes: list[str],
    cfg: ImageConfig,
    where: str,
    fixed: np.ndarray | None = None,
) -> LazyImages:
    """Read every file's header (no pixels): the channels and size they decode to. An unreadable
    file is an error naming it, or skipped (counted) with cfg.skip_bad, as `images.decode` does."""
    from PIL import Image

    keep, bad, modes = [], [], set()
    sizes: dict[tuple[int, int], Path] = {}
    for i, path in enumerate(paths):
        try:
            with Image.open(path) as img:
                mode, (width, height) = img.mode, img.size
        except READ_ERRORS as exc:
            if not cfg.skip_bad:
                raise unreadable(path, exc) from None
            bad.append(path)
            continue
        modes.add(mode)
        sizes.setdefault((height, width), path)
        if cfg.size is None and len(sizes) > 1:
            (h1, w1), first = next(iter(sizes.items()))
            raise DataError(
                f"{where}: images have different sizes ({h1}x{w1} in {first.name}, {height}x{width} "
                f"in {path.name}); set data.image.size: [H, W] to resize them"
            )
        keep.append(i)
    if not keep:
        raise DataError(f"{where}: none of the {len(paths)} images could be read; check the files")
    channels = channels_of(modes, cfg.channels)
    height, width = cfg.size if cfg.size is not None else next(iter(sizes))
    notes = [f"skipped {len(bad)} unreadable images (first: {bad[0]})"] if bad else []
    return LazyImages(
        [paths[i] for i in keep], labels[keep], classes, (channels, height, width), cfg.size is not None,
        fixed[keep] if fixed is not None else None, notes,
    )  # fmt: skip


def concat(raw: Any, extra: Any, fixed: np.ndarray, where: str) -> LazyImages:
    """A separate data.val/data.test folder added to data.source, both read lazily."""
    if not isinstance(raw, LazyImages) or not isinstance(extra, LazyImages):
        raise DataError(
            f"{where}: this folder and data.source fall on different sides of data.memory_budget (one would "
            f"be read lazily, one decoded); put both in one folder as train/ and test/ subfolders"
        )
    if raw.shape != extra.shape:
        raise DataError(
            f"{where}: images of shape {extra.shape} but training has {raw.shape}; set data.image.size: [H, W]"
        )
    classes = sorted(set(raw.classes) | set(extra.classes))
    remap = [np.array([classes.index(c) for c in r.classes], dtype=np.int64) for r in (raw, extra)]
    y = np.concatenate([remap[0][raw.y], remap[1][extra.y]])
    notes = [*(raw.notes or []), *(extra.notes or [])]
    return LazyImages([*raw.paths, *extra.paths], y, classes, raw.shape, raw.resize, fixed, notes)


class UnreadableImage(DataError):
    """A file whose header read but whose pixels do not decode. Raised in a DataLoader worker,
    torch re-raises it here with the worker's traceback as its text: keep the one line."""

    def __init__(self, message: str) -> None:
        last = message.rstrip().rsplit("\n", 1)[-1]
        prefix = f"{__name__}.{type(self).__qualname__}: "
        super().__init__(
            last.removeprefix(prefix) if "\n" in message and last.startswith(prefix) else message
        )


class ImageFiles(Dataset):
    """Image files read a whole batch at a time: decoded, converted to the channels, resized,
    scaled to [0, 1] and normalized per channel. Returns (x (B, C, H, W), y (B, ...))."""

    def __init__(
        self, paths: list[str], y: torch.Tensor, shape: tuple[int, int, int], resize: bool,
        mean: torch.Tensor, std: torch.Tensor,
    ) -> None:  # fmt: skip
        self.paths, self.y, self.shape, self.resize = paths, y, shape, resize
        self.mean = mean.reshape(-1, 1, 1).numpy().astype(np.float32)  # (C, 1, 1)
        self.std = std.reshape(-1, 1, 1).numpy().astype(np.float32)

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, torch.Tensor]:
        x, y = self.__getitems__([i])
        return x[0], y[0]

    def __getitems__(self, index: list[int]) -> tuple[torch.Tensor, torch.Tensor]:
        x = np.empty((len(index), *self.shape), dtype=np.float32)  # (B, C, H, W)
        for k, i in enumerate(index):
            x[k] = self._pixels(self.paths[i])
        # numpy, not torch: torch's element-wise ops go parallel and stall on a busy machine
        x -= self.mean
        x /= self.std
        return torch.from_numpy(x), self.y[torch.as_tensor(index, dtype=torch.long)]

    def _pixels(self, path: str) -> np.ndarray:
        """One file through the one decoder: float32 (C, H, W) in [0, 1]."""
        channels, height, width = self.shape
        try:
            x, _ = read_image(path, channels, (height, width) if self.resize else None)
        except READ_ERRORS as exc:
            raise UnreadableImage(
                f"{path}: cannot decode this image ({reason(exc)}) though its header read; remove or replace it"
            ) from None
        if x.shape[1:] != (height, width):  # a file changed since its header was read
            raise UnreadableImage(
                f"{path}: is {x.shape[1]}x{x.shape[2]}, not {height}x{width} as when the folder was "
                f"scanned; set data.image.size: [H, W] or restore the file"
            )
        return x


def _as_is(batch: Any) -> Any:
    """collate_fn: `__getitems__` already returns the batch as tensors."""
    return batch


class ImageRows:
    """The rows of one split of a lazy image folder (a `core.Rows`): a DataLoader with workers
    reads them batch by batch; `take` reads a few in this process."""

    def __init__(self, files: ImageFiles, workers: int) -> None:
        self.files, self.workers = files, workers

    def __len__(self) -> int:
        return len(self.files)

    def take(self, index: torch.Tensor) -> torch.Tensor:
        return self.files.__getitems__(index.tolist())[0]

    def loader(self, batch_size: int, shuffle: bool, generator: torch.Generator | None) -> DataLoader:
        """Training batches of `batch_size` (shuffled); in order, batches of at most READ_BYTES
        (1024 rows of 224x224 RGB would be 616 MB)."""
        n, workers = len(self.files), self.workers
        batch = min(batch_size, n)
        if not shuffle:
            batch = min(batch, max(1, READ_BYTES // (int(np.prod(self.files.shape)) * FLOAT_BYTES)))
        order = LoopShuffled(n, generator) if shuffle and batch < n else None  # full batch: no shuffle
        return DataLoader(
            self.files, batch_size=batch, sampler=order, num_workers=workers, collate_fn=_as_is,
            pin_memory=torch.cuda.is_available(), persistent_workers=workers > 0,
            prefetch_factor=PREFETCH if workers else None,
            generator=torch.Generator().manual_seed(0),  # the workers' base seed; no draw from the global RNG
        )  # fmt: skip


def rows(
    raw: LazyImages, index: torch.Tensor, mean: torch.Tensor, std: torch.Tensor, workers: int
) -> ImageRows:
    """The rows `index` of the folder, normalized by the train split's mean/std."""
    paths = [str(raw.paths[i]) for i in index.tolist()]
    y = torch.from_numpy(raw.y)[index].float()
    return ImageRows(ImageFiles(paths, y, raw.shape, raw.resize, mean, std), workers)


def channel_stats(
    raw: LazyImages, train: torch.Tensor, generator: torch.Generator, workers: int
) -> tuple[torch.Tensor, torch.Tensor, int]:
    """Per-channel mean and std (unbiased, as in memory) of the train split's pixels, from a
    seeded sample of at most STATS_SAMPLE of its images; and how many were used."""
    sample = train if len(train) <= STATS_SAMPLE else train[torch.randperm(len(train), generator=generator)]
    sample = sample[:STATS_SAMPLE].sort().values  # file order: sequential reads
    c = raw.shape[0]
    reader = rows(raw, sample, torch.zeros(c), torch.ones(c), workers).loader(len(sample), False, None)
    total, squares, count = np.zeros(c), np.zeros(c), 0
    for x, _ in reader:
        for ch in range(c):  # one channel at a time in float64: sums of millions of pixels keep their digits
            v = x[:, ch].numpy().astype(np.float64)
            total[ch] += v.sum()
            squares[ch] += (v * v).sum()
        count += x.shape[0] * x.shape[2] * x.shape[3]
    mean = total / count
    std = np.sqrt(np.maximum((squares - count * mean * mean) / max(1, count - 1), 0))
    return torch.from_numpy(mean).float(), torch.from_numpy(std).float().clamp(min=1e-6), len(sample)


def describe(raw: LazyImages, budget: int, given: str, workers: int, sampled: int, train: int) -> list[str]:
    """The notes of a lazy folder: why it is read lazily, by whom, and where its statistics come from."""
    limit = f"{given} = {_size(budget)}" if given == "auto" else given
    by = (
        f"by {workers} DataLoader worker{'s' if workers > 1 else ''}"
        if workers
        else "in the training process"
    )
    notes = [
        f"images: {len(raw.paths):,} files would take {_size(raw.nbytes)} decoded (data.memory_budget "
        f"{limit}): read lazily {by}, every epoch"
    ]
    if sampled < train:
        notes.append(
            f"images: per-channel mean/std from a seeded sample of {sampled:,} of the {train:,} train images"
        )
    return notes


def _size(n: int) -> str:
    for unit, scale in (("GB", 10**9), ("MB", 10**6), ("KB", 10**3)):
        if n >= scale:
            return f"{n / scale:.1f} {unit}"
    return f"{n} B"
