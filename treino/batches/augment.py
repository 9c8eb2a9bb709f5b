"""Train-only image augmentation on whole batches, on the batch's device: random horizontal
flips and random crops of a zero-padded image. One seeded generator draws every choice."""

from __future__ import annotations

from collections.abc import Iterator

import torch
import torch.nn.functional as F

from treino.batches.source import Batch, InMemory, Loader


def pad_for(height: int) -> int:
    """Crop padding in pixels: 4 for 32x32 images (the CIFAR habit), at least 1."""
    return max(1, height // 8)


def augment(x: torch.Tensor, generator: torch.Generator | None, pad: int) -> torch.Tensor:
    """Flip half the images left-right and shift each by up to `pad` pixels. x: (B, C, H, W)."""
    b, _, h, w = x.shape
    flip = (torch.rand(b, generator=generator) < 0.5).to(x.device)
    x = torch.where(flip[:, None, None, None], x.flip(3), x)
    padded = F.pad(x, (pad, pad, pad, pad))  # zeros = the train mean after normalization
    dy = torch.randint(0, 2 * pad + 1, (b,), generator=generator).to(x.device)
    dx = torch.randint(0, 2 * pad + 1, (b,), generator=generator).to(x.device)
    rows = (dy[:, None] + torch.arange(h, device=x.device))[:, :, None]  # (B, H, 1)
    cols = (dx[:, None] + torch.arange(w, device=x.device))[:, None, :]  # (B, 1, W)
    batch = torch.arange(b, device=x.device)[:, None, None]
    return padded.permute(0, 2, 3, 1)[batch, rows, cols].permute(0, 3, 1, 2).contiguous()  # (B, C, H, W)


class Augmented(InMemory):
    """In-memory training images, augmented anew in every batch (the fast path, on the device).

    Example:
        >>> src = Augmented(x_train, y_train, batch_size=64)
        >>> treino.fit(model, src, epochs=5, loss="cross_entropy", optimizer="adam")
    """

    def to(self, device: torch.device) -> Augmented:
        return Augmented(self.x.to(device), self.y.to(device), self.batch_size)

    def epoch(self, generator: torch.Generator | None) -> Iterator[Batch]:
        pad = pad_for(self.x.shape[2])
        for x, y in super().epoch(generator):
            yield augment(x, generator, pad), y


class AugmentedLoader(Loader):
    """Lazy training images (read by a DataLoader), augmented batch by batch as they arrive."""

    def __init__(self, inner: Loader) -> None:
        super().__init__(inner.loader, inner.task)

    def epoch(self, generator: torch.Generator | None) -> Iterator[Batch]:
        for x, y in super().epoch(generator):
            yield augment(x, generator, pad_for(x.shape[2])), y
