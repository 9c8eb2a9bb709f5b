"""Recurrent networks for sequences, as the course presents them: a plain RNN, an LSTM or a GRU
(`model.cell`) reads the sequence step by step; its state after the last step (both directions'
when bidirectional) goes through a linear head to the outputs.

Inputs: float windows (B, T, F) (a series, an .npz of sequences) or token ids (B, L) padded at
the end with 0 (`data.text.mode: tokens`), which go through an embedding first. Padded texts are
packed by their true lengths, so padding never feeds the state the head reads."""

from __future__ import annotations

import torch
from torch import Tensor, nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from treino.registry import Registry

PAD = 0  # token id 0 pads a short text at its end
CELLS: Registry[type[nn.RNNBase]] = Registry("recurrent cell", key="model.cell")
CELLS.register("lstm")(nn.LSTM)
CELLS.register("gru")(nn.GRU)
CELLS.register("rnn")(nn.RNN)  # tanh: the Elman network of the course


class RNN(nn.Module):
    """A recurrent classifier/regressor: (B, T, F) floats or (B, L) token ids -> (B, n_outputs).

    `dropout` applies after every recurrent layer: between stacked layers and on the last
    state before the head.

    Example:
        >>> net = RNN(n_inputs=8, n_outputs=3, hidden=32, layers=2, cell="gru")
        >>> net(torch.zeros(4, 30, 8)).shape
        torch.Size([4, 3])
        >>> words = RNN(n_inputs=None, n_outputs=1, vocab_size=1000, embed_dim=16, bidirectional=True)
        >>> words(torch.tensor([[5, 9, 2, 0], [7, 0, 0, 0]])).shape
        torch.Size([2, 1])
    """

    def __init__(
        self,
        n_inputs: int | None,
        n_outputs: int,
        hidden: int = 64,
        layers: int = 1,
        cell: str = "lstm",
        bidirectional: bool = False,
        dropout: float = 0.0,
        vocab_size: int | None = None,
        embed_dim: int = 64,
    ) -> None:
        super().__init__()
        self.embed = nn.Embedding(vocab_size, embed_dim, padding_idx=PAD) if vocab_size else None
        width = embed_dim if vocab_size else n_inputs
        if width is None:
            raise ValueError("RNN: give n_inputs (features per step) or vocab_size (token ids)")
        self.rnn = CELLS.get(cell)(
            width, hidden, num_layers=layers, batch_first=True, bidirectional=bidirectional,
            dropout=dropout if layers > 1 else 0.0,  # torch's: between stacked layers only
        )  # fmt: skip
        self.directions = 2 if bidirectional else 1
        self.drop = nn.Dropout(dropout) if dropout > 0 else None
        self.out = nn.Linear(hidden * self.directions, n_outputs)

    def forward(self, x: Tensor) -> Tensor:
        if self.embed is None:
            if x.dim() == 2:  # (B, T): one feature per step
                x = x.unsqueeze(-1)
            _, state = self.rnn(x.float())  # (B, T, F) -> state (layers * directions, B, H)
            h = state[0] if isinstance(state, tuple) else state  # an LSTM gives (h, c)
            last = h[-self.directions :].transpose(0, 1).flatten(1)  # top layer: (B, directions * H)
        else:
            last = self._last_of_tokens(x.long())
        return self.out(self.drop(last) if self.drop is not None else last)

    def _last_of_tokens(self, ids: Tensor) -> Tensor:
        """The top layer's state after each row's own last token (forward) and after reading it
        back to its first token (backward): (B, directions * H), padding never read."""
        # right-padded ids: the true length is the count of non-padding ids; an all-padding row
        # reads one padding step (a zero vector) so that it still gets an output. Packing wants
        # the lengths on the CPU: one device sync per batch on a GPU.
        lengths = (ids != PAD).sum(1).clamp(min=1).cpu()
        packed = pack_padded_sequence(self.embed(ids), lengths, batch_first=True, enforce_sorted=False)
        out, _ = self.rnn(packed)
        # read from the output sequence rather than the final state: the same numbers, and the
        # ONNX exporter handles a one-layer packed RNN only when its output sequence is used
        y, _ = pad_packed_sequence(out, batch_first=True)  # (B, longest, directions * H)
        width = y.shape[2] // self.directions
        at_end = (lengths.to(y.device) - 1).view(-1, 1, 1).expand(-1, 1, width)
        last = y[:, :, :width].gather(1, at_end).squeeze(1)  # forward: at each row's last token
        if self.directions == 2:
            last = torch.cat([last, y[:, 0, width:]], 1)  # backward: done at the first token
        return last
