"""Text classifiers, as the course builds them: TF-IDF features -> MLP, or token ids ->
EmbeddingBag (the mean of the word vectors) -> MLP."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from treino.models.activations import make_activation
from treino.models.mlp import dense_stack

PAD = 0  # token id 0 pads short texts; it is left out of the bag's mean


class TfidfMLP(nn.Module):
    """An MLP on TF-IDF vectors (B, F), dense or sparse; a sparse batch is never densified.

    Example:
        >>> net = TfidfMLP(n_features=5000, n_outputs=2, hidden=[64])
        >>> net(torch.zeros(8, 5000)).shape
        torch.Size([8, 2])
    """

    def __init__(
        self,
        n_features: int,
        n_outputs: int,
        hidden: list[int],
        activation: str = "relu",
        dropout: float = 0.0,
        batch_norm: bool = False,
    ) -> None:
        super().__init__()
        self.input = nn.Linear(n_features, hidden[0] if hidden else n_outputs)
        layers: list[nn.Module] = []
        if hidden:  # else the input layer is the output layer (logistic/softmax on TF-IDF)
            layers += [nn.BatchNorm1d(hidden[0])] if batch_norm else []
            layers.append(make_activation(activation))
            layers += [nn.Dropout(dropout)] if dropout > 0 else []
            stack, width = dense_stack(hidden[0], hidden[1:], activation, dropout, batch_norm)
            layers += [*stack, nn.Linear(width, n_outputs)]
        self.rest = nn.Sequential(*layers)

    def forward(self, x: Tensor) -> Tensor:
        if x.layout != torch.strided:  # sparse (B, F) @ (F, H): only the non-zero terms
            z = torch.sparse.mm(x.float(), self.input.weight.t()) + self.input.bias
        else:
            z = self.input(x.flatten(1))  # (B, F) -> (B, H)
        return self.rest(z)


class TokenBag(nn.Module):
    """Token ids (B, L), 0 = padding -> mean word vector (B, D) -> MLP -> (B, n_outputs).

    Example:
        >>> net = TokenBag(vocab_size=1000, n_outputs=4, embed_dim=32, hidden=[32])
        >>> net(torch.tensor([[5, 9, 2, 0], [7, 0, 0, 0]])).shape
        torch.Size([2, 4])
    """

    def __init__(
        self,
        vocab_size: int,
        n_outputs: int,
        embed_dim: int = 64,
        hidden: list[int] | None = None,
        activation: str = "relu",
        dropout: float = 0.0,
        batch_norm: bool = False,
    ) -> None:
        super().__init__()
        self.embed = nn.EmbeddingBag(vocab_size, embed_dim, mode="mean", padding_idx=PAD)
        self.body, width = dense_stack(embed_dim, hidden or [], activation, dropout, batch_norm)
        self.out = nn.Linear(width, n_outputs)

    def forward(self, ids: Tensor) -> Tensor:
        z = self.embed(ids.long())  # (B, L) -> (B, D); an all-padding row gives zeros
        return self.out(self.body(z))
