"""The one image decoder: an image file, or an array of images, to float32 (C, H, W) pixels in
[0, 1], in the channels and at the size asked. Training (in memory and lazily, batch by batch)
and prediction all decode through it, so a model never sees its images converted or resized one
way in training and another in prediction."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from treino.errors import DataError

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp"}
GRAY_MODES = {"1", "L", "LA", "I", "I;16", "F"}
# what Pillow raises for a file it cannot read (its UnidentifiedImageError is an OSError)
READ_ERRORS = (OSError, ValueError)
LUMINANCE = (0.299, 0.587, 0.114)  # RGB weights of gray (ITU-R 601-2, as Pillow's convert("L"))


def is_image(path: Path) -> bool:
    """Whether the file's suffix is one of the image formats read."""
    return path.suffix.lower() in IMAGE_SUFFIXES


def reason(exc: BaseException) -> str:
    """Why Pillow could not read a file, without the path it repeats."""
    return str(exc).split(" '")[0] if str(exc) else type(exc).__name__


def unreadable(path: Path, exc: BaseException) -> DataError:
    """The error for an image Pillow cannot open, with the fix."""
    return DataError(
        f"{path}: cannot read this image ({reason(exc)}); remove it or set data.image.skip_bad: true"
    )


def channels_of(modes: set[str], asked: int | str) -> int:
    """data.image.channels, with auto resolved: 1 when every image is grayscale, else 3."""
    if asked != "auto":
        return int(asked)
    return 1 if modes <= GRAY_MODES else 3


def eight_bit(img: Any) -> Any:
    """A 16-bit grayscale image as 8-bit levels: Pillow's convert() clips it at 255 (all white)."""
    if not img.mode.startswith("I;16"):
        return img
    from PIL import Image

    return Image.fromarray((np.asarray(img, dtype=np.float32) / 257).round().astype(np.uint8), "L")


def pixels(img: Any, channels: int, size: tuple[int, int] | None = None) -> np.ndarray:
    """One opened Pillow image -> float32 (C, H, W) in [0, 1]: 16-bit levels made 8-bit,
    converted to `channels` (1: luminance, 3: RGB), resized (bilinear) to `size` (H, W) if given."""
    from PIL import Image

    mode = "L" if channels == 1 else "RGB"
    img = eight_bit(img)
    img = img if img.mode == mode else img.convert(mode)
    if size is not None and img.size != (size[1], size[0]):
        img = img.resize((size[1], size[0]), Image.Resampling.BILINEAR)
    x = np.asarray(img, dtype=np.float32) / 255.0
    return x[None] if x.ndim == 2 else x.transpose(2, 0, 1)  # (H, W[, C]) -> (C, H, W)


def read_image(
    path: Path | str, channels: int, size: tuple[int, int] | None = None
) -> tuple[np.ndarray, bool]:
    """An image file decoded by `pixels`; and whether it was resized. Pillow's errors
    (READ_ERRORS) pass through: each caller says what to do about the file."""
    from PIL import Image

    with Image.open(path) as img:
        resized = size is not None and img.size != (size[1], size[0])
        return pixels(img, channels, size), resized


def to_nchw(x: np.ndarray, where: Path | str) -> np.ndarray:
    """(N, H, W), (N, H, W, C) or (N, C, H, W) arrays -> float32 (N, C, H, W) in [0, 1]."""
    if x.ndim == 3:
        x = x[:, None]
    elif x.ndim == 4 and x.shape[-1] in (1, 3, 4) and x.shape[1] not in (1, 3, 4):
        x = x.transpose(0, 3, 1, 2)
    elif x.ndim != 4:
        raise DataError(f"{where}: images of shape {x.shape[1:]}; expected (H, W), (H, W, C) or (C, H, W)")
    x = x[:, :3].astype(np.float32)
    if x.max(initial=0) > 1.0:  # 0..255 pixels
        x /= 255.0
    return x


def fit_arrays(x: np.ndarray, channels: int | str, size: tuple[int, int] | list[int] | None) -> np.ndarray:
    """float32 (N, C, H, W) images converted to `channels` (auto: as they are) and resized
    (bilinear) to `size` (H, W) if given and different."""
    import torch

    t = torch.from_numpy(x)
    if channels == 1 and t.shape[1] == 3:
        t = (t * torch.tensor(LUMINANCE)[:, None, None]).sum(1, keepdim=True)
    elif channels == 3 and t.shape[1] == 1:
        t = t.expand(-1, 3, -1, -1)
    if size is not None and tuple(t.shape[2:]) != tuple(size):
        t = torch.nn.functional.interpolate(t, size=tuple(size), mode="bilinear", align_corners=False)
    return t.contiguous().numpy()
