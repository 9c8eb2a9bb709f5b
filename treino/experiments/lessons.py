"""Ready-made comparisons for learners: `treino compare --lesson NAME`. Each lesson is a base
config on a built-in dataset, a few labelled variants, and what to look for in the picture."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from treino.experiments import transfer
from treino.registry import Registry


@dataclass
class Lesson:
    """A base config, labelled variants (each a dict of dotted keys), and the explanation."""

    name: str
    title: str
    config: dict[str, Any]
    variants: list[tuple[str, dict[str, Any]]]
    look_for: str
    repeats: int = 1
    # work before the variants (transfer: the pretraining)
    prepare: Callable[[Lesson, bool], Lesson] | None = None


LESSONS: Registry[Lesson] = Registry("lesson", key="--lesson")


def _add(lesson: Lesson) -> None:
    LESSONS.register(lesson.name)(lesson)


# Shared bases. Early stopping is off in every lesson: the point is to watch whole curves.
_NO_STOP = {"early_stopping": None, "restore_best": False}
_DIGITS_MLP = {"source": "digits"}

_add(Lesson(
    name="batch-regimes",
    title="Stochastic vs mini-batch vs full batch",
    config={
        "name": "batch-regimes", "data": {"source": "breast_cancer"},
        "model": {"kind": "mlp", "hidden": [32]}, "optimizer": {"name": "sgd", "lr": 0.05},
        "train": {"epochs": 20, **_NO_STOP},
    },
    variants=[
        ("stochastic (batch 1)", {"train.batch_size": 1}),
        ("mini-batch (batch 32)", {"train.batch_size": 32}),
        ("full batch (all 397 rows)", {"train.batch_size": "full"}),
    ],
    look_for=(
        "The batch is how many samples the network sees before each update; one epoch is one pass "
        "over the training set. Same optimizer (plain SGD), same learning rate, same 20 epochs.\n\n"
        "Per iteration (top right): stochastic descent makes 397 updates per epoch and its loss "
        "zig-zags wildly; mini-batch zig-zags less; full batch makes one smooth update per epoch and "
        "goes neatly downhill, but after 20 epochs it has made only 20 small steps.\n\n"
        "Per epoch and per samples seen (the fair axis): the small batches get much further with the "
        "same data, because they update more often. Stochastic descent is at its best validation loss "
        "after the first epoch and then starts to overfit: its many noisy steps fit the training set "
        "fastest. Per wall-clock second, the cost of many tiny steps shows: batch 1 spends far more "
        "time per epoch. Mini-batch is the usual balance."
    ),
))  # fmt: skip

_add(Lesson(
    name="optimizers",
    title="SGD vs momentum vs Adam",
    config={
        "name": "optimizers", "data": _DIGITS_MLP, "model": {"kind": "mlp", "hidden": [64]},
        "optimizer": {"lr": 0.01}, "train": {"epochs": 15, "batch_size": 32, **_NO_STOP},
    },
    variants=[
        ("SGD", {"optimizer.name": "sgd"}),
        ("SGD + momentum 0.9", {"optimizer.name": "momentum"}),
        ("Adam", {"optimizer.name": "adam"}),
    ],
    repeats=2,
    look_for=(
        "Same network, same data, same learning rate (0.01) and batch size; only the rule that turns "
        "gradients into steps changes. Two seeds each, so you also see how much is luck.\n\n"
        "Plain SGD creeps down: each step only follows the current gradient. Momentum keeps a running "
        "velocity, so steps in a consistent direction add up and it gets much lower in the same "
        "epochs. Adam adapts the step of every weight to the size of its recent gradients and usually "
        "drops fastest at first: 'in doubt, use Adam'.\n\n"
        "Watch the validation loss of Adam too: fast progress can also mean it starts to overfit "
        "(the validation loss turns up) earlier."
    ),
))  # fmt: skip

_add(Lesson(
    name="learning-rates",
    title="Learning rate: too small, good, too large",
    config={
        "name": "learning-rates", "data": {"source": "houses"}, "model": {"kind": "linear"},
        "optimizer": {"name": "sgd"}, "train": {"epochs": 30, "batch_size": 16, **_NO_STOP},
    },
    variants=[
        ("lr 0.001", {"optimizer.lr": 0.001}),
        ("lr 0.01", {"optimizer.lr": 0.01}),
        ("lr 0.1", {"optimizer.lr": 0.1}),
        ("lr 3.0", {"optimizer.lr": 3.0}),
    ],
    look_for=(
        "The course's house prices (rooms -> price), a straight line fitted with plain SGD; only the "
        "learning rate, the size of each step down the gradient, changes.\n\n"
        "lr 0.001 is too timid: the loss falls, but slowly, and 30 epochs are not enough. lr 0.01 and "
        "0.1 reach the bottom; the larger one much sooner. lr 3.0 overshoots: every step jumps past "
        "the minimum to a higher point on the other side, the loss explodes and the run is reported "
        "as diverged (it fails on its own; the other variants finish)."
    ),
))  # fmt: skip

# Noisy targets, 177 training rows and a wide network: it can memorize, so overfitting shows.
_OVERFIT = {
    "data": {"source": "diabetes", "split": {"val": 0.3, "test": 0.3}},
    "model": {"kind": "mlp", "hidden": [256, 256]},
    "optimizer": {"name": "adam", "lr": 0.001},
    "train": {"epochs": 80, "batch_size": 16, **_NO_STOP},
}

_add(Lesson(
    name="dropout",
    title="Dropout against overfitting",
    config={"name": "dropout", **_OVERFIT},
    variants=[
        ("no dropout", {"model.dropout": 0.0}),
        ("dropout 0.2", {"model.dropout": 0.2}),
        ("dropout 0.5", {"model.dropout": 0.5}),
    ],
    look_for=(
        "A wide network (two layers of 256) predicts the diabetes progression of 177 patients for 80 "
        "epochs: the target is noisy and the network has the capacity to memorize it. The loss is "
        "the mean squared error on the standardized target.\n\n"
        "Without dropout the training loss falls to almost zero (top right), while the validation "
        "loss is lowest after a few epochs and then climbs: the network is learning the noise of its "
        "training rows, that is overfitting.\n\n"
        "Dropout switches off a random part of the neurons at every iteration, so no neuron can rely "
        "on a particular partner. The training loss stays higher and noisier, but the validation "
        "loss stays lower and rises less: the gap between train and validation shrinks."
    ),
))  # fmt: skip

_add(Lesson(
    name="regularization",
    title="L1, L2 and weight decay",
    config={"name": "regularization", **_OVERFIT},
    variants=[
        ("no penalty", {}),
        ("L1 (train.l1=1e-3)", {"train.l1": 1e-3}),
        ("L2 (train.l2=1e-2)", {"train.l2": 1e-2}),
        ("weight decay (adamw, 3)", {"optimizer.name": "adamw", "optimizer.weight_decay": 3.0}),
    ],
    look_for=(
        "The same overfitting setup as the dropout lesson. L1 and L2 add a penalty on the size of the "
        "weights to the loss (the sum of |w| or of w²), so the optimizer trades fitting the training "
        "set against keeping the weights small. Weight decay shrinks every weight a little at every "
        "step (by learning rate x decay); with plain SGD that is the same as L2, and AdamW applies it "
        "apart from Adam's step scaling (AdamW with no decay is Adam).\n\n"
        "Without a penalty the validation loss turns up after its minimum (overfitting). With a "
        "penalty it stays lower and flatter: a simpler model that memorizes less. Too strong a "
        "penalty would underfit instead (both train and validation stay high); try larger values "
        "with --set to see it."
    ),
))  # fmt: skip

_add(Lesson(
    name="init",
    title="Weight initialization",
    config={
        "name": "init", "data": _DIGITS_MLP,
        "model": {"kind": "mlp", "hidden": [128, 128, 128, 128], "activation": "relu"},
        "optimizer": {"name": "sgd", "lr": 0.05}, "train": {"epochs": 15, "batch_size": 32, **_NO_STOP},
    },
    variants=[
        ("normal, std 0.01 (too small)", {"model.init": "normal", "model.init_std": 0.01}),
        ("normal, std 1.0 (too large)", {"model.init": "normal", "model.init_std": 1.0}),
        ("xavier_uniform", {"model.init": "xavier_uniform"}),
        ("kaiming_normal (for relu)", {"model.init": "kaiming_normal"}),
    ],
    look_for=(
        "A deep narrow network (4 hidden relu layers) trained with plain SGD; only the random starting "
        "weights differ.\n\n"
        "With tiny weights (std 0.01) the signal shrinks at every layer, so do the gradients: the "
        "loss sits flat at its starting value (log 10 = 2.3, a blind guess among 10 digits) and does "
        "not move. With huge weights (std 1.0) the signal explodes instead: the loss becomes infinite "
        "within the first iterations and the run is reported as diverged.\n\n"
        "Xavier and Kaiming scale the starting weights to the number of inputs of each layer so the "
        "signal keeps its size through the layers; Kaiming is made for relu. Both start learning at "
        "once. A good start decides whether training converges quickly, slowly or not at all."
    ),
))  # fmt: skip


_add(Lesson(
    name="losses",
    title="Cross-entropy vs MSE for logistic regression",
    config={
        "name": "losses", "data": {"source": "breast_cancer"},
        "model": {"kind": "logistic", "init": "normal", "init_std": 1.0},
        "optimizer": {"name": "sgd", "lr": 0.05}, "train": {"epochs": 30, "batch_size": 32, **_NO_STOP},
    },
    variants=[
        ("cross-entropy (bce)", {"loss.name": "bce"}),
        ("MSE on the probability", {"loss.name": "mse"}),
        ("L1 on the probability", {"loss.name": "l1"}),
    ],
    look_for=(
        "The course's logistic regression (one sigmoid unit on 30 tumour measurements), started from "
        "large random weights (normal, std 1.0) so that many first predictions are confidently wrong, "
        "and trained with plain SGD; only the loss changes. MSE and L1 compare the predicted "
        "probability with the 0/1 label; cross-entropy (bce) takes minus the log of the probability "
        "given to the true class. The losses are on different scales: compare the accuracy, and how "
        "fast each curve falls.\n\n"
        "Through the sigmoid, MSE's gradient is (p - y) p (1 - p): when a prediction is confidently "
        "wrong, p(1 - p) is almost zero and the weights barely move, so the examples that most need "
        "correcting are corrected slowest. L1 has the same p(1 - p) factor. Cross-entropy's gradient is "
        "p - y: the more wrong, the larger the step, and its loss is convex in the weights. That is "
        "why classifiers train with cross-entropy (treino's auto), and why treino notes it when a "
        "classifier trains with MSE."
    ),
))  # fmt: skip
_add(Lesson(
    name="sequences",
    title="Linear autoregression vs RNN vs LSTM vs GRU on a series",
    config={
        "name": "sequences", "data": {"source": "sunspots"}, "model": {"kind": "rnn", "hidden": [32]},
        "optimizer": {"name": "adam", "lr": 0.003}, "train": {"epochs": 60, "batch_size": 32, **_NO_STOP},
    },
    variants=[
        ("linear (autoregression)", {"model.kind": "linear"}),
        ("RNN (plain, tanh)", {"model.cell": "rnn"}),
        ("LSTM", {"model.cell": "lstm"}),
        ("GRU", {"model.cell": "gru"}),
    ],
    look_for=(
        "Three centuries of yearly sunspot counts (1700-2008), a cycle of about 11 years whose peaks "
        "differ in height. Each model sees the last 22 years (data.series.window auto: two cycles) "
        "and predicts the next year; the split is by time, so the test part is the most recent 46 "
        "years, which no model has seen. The loss is the squared error on the standardized count.\n\n"
        "The linear model is an autoregression: next year as a weighted sum of the past 22. It "
        "learns at once, but a weighted sum cannot make the cycle's sharp rise and slow fall: its "
        "validation loss stays the highest. The recurrent networks read the years one at a time "
        "and carry a state: the plain RNN (the course's Elman network), the LSTM and the GRU all "
        "get below the linear model, close to one another; the gates of the LSTM and the GRU, "
        "which keep what matters across many steps, matter more on longer windows than these 22 "
        "years (try --set data.series.window=44). Per wall-clock second the linear model is the "
        "cheapest: each recurrent step waits for the one before.\n\n"
        "Every series run also reports baselines on the same test years: the naive forecast (this "
        "year = last year), the seasonal naive (one cycle ago) and a least-squares autoregression. "
        "Open a variant's report.html to see its forecasts against them (treino report RUN)."
    ),
))  # fmt: skip


_add(Lesson(
    name="transfer",
    title="Transfer learning: from scratch vs fine-tuned vs frozen with a new head",
    config={
        "name": "transfer", "model": transfer.MODEL,
        "data": {"source": transfer.SOURCE, "args": {"classes": [5, 6, 7, 8, 9], "rows": 1000, "seed": 1},
                 "split": {"val": 0.05, "test": 0.9}},
        "optimizer": {"name": "adam", "lr": 0.001}, "train": {"epochs": 20, "batch_size": 16, **_NO_STOP},
    },
    variants=[
        ("from scratch", {}),
        ("fine-tuned", {"model.weights": "{pretrained}", "model.reset": ["head", "out"],
                        "optimizer.backbone_lr_mult": 0.1}),
        ("frozen, new head", {"model.weights": "{pretrained}", "model.reset": ["head", "out"],
                              "model.freeze": ["features"]}),
    ],
    prepare=transfer.prepare,
    repeats=3,
    look_for=(
        "A CNN is first trained on the images of classes 0-4 (Fashion-MNIST when installed, else the "
        "MNIST digits of mnist5k); this happens once and is cached. The lesson then has a small "
        "labelled set of the other classes, 5-9, which that network never saw: 50 training images "
        "(10 per class), 50 for validation and 900 for the test. Three seeds: each draws other images.\n\n"
        "From scratch, the CNN starts from random weights and must learn its filters from 50 images. "
        "The two others start from the pretrained convolutions with a new dense head (model.reset: "
        "[head, out]). Fine-tuned, the convolutions train too, at a tenth of the learning rate "
        "(optimizer.backbone_lr_mult: 0.1) so the new head's first large errors do not wash out what "
        "they learnt. Frozen, they stay fixed (model.freeze: [features]), batch-norm statistics "
        "included, and only the new head learns, as in the course's 'Torch Vision models'.\n\n"
        "The pretrained filters (strokes, edges, blobs) serve the new classes too: the pretrained "
        "variants start higher and need fewer epochs. With so few images, the scores differ from "
        "seed to seed by several points: compare the means, and the spread."
    ),
))  # fmt: skip


def run(
    name: str,
    *,
    out: str | Path | None = None,
    overrides: list[str] | dict[str, Any] | None = None,
    repeats: int | None = None,
    jobs: int | None = None,
    quiet: bool = False,
) -> Any:
    """Run a lesson's comparison; `overrides` (e.g. train.epochs=5) apply to every variant.

    Example:
        >>> treino.experiments.lessons.run("optimizers", out="runs/optimizers").page
    """
    from treino.experiments.compare import Variant, compare

    lesson = LESSONS.get(name)
    lesson = lesson.prepare(lesson, quiet) if lesson.prepare else lesson
    variants = [Variant(label, settings) for label, settings in lesson.variants]
    about = {"name": lesson.name, "title": lesson.title, "look_for": lesson.look_for}
    return compare(lesson.config, variants, repeats=repeats or lesson.repeats, out=out,
                   overrides=overrides, jobs=jobs, lesson=about, quiet=quiet)  # fmt: skip
