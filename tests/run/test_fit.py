"""treino.fit as a learner uses it (early stopping, best epoch, plot, the run folder), and
treino.train with what a notebook has (data=, model=, flat settings)."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from torch import nn

import treino
from treino.errors import ConfigError, DataError


def _iris() -> tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]:
    from sklearn.datasets import load_iris

    x, y = load_iris(return_X_y=True)
    x = (x - x.mean(0)) / x.std(0)
    order = np.random.default_rng(0).permutation(len(x))
    return (x[order[:100]], y[order[:100]]), (x[order[100:]], y[order[100:]])


def _net(width: int = 32) -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(4, width), nn.ReLU(), nn.Linear(width, 3))


def test_fit_stops_early_and_puts_the_best_epochs_weights_back(capsys):
    """patience= raised TypeError and best_epoch stayed None even with validation data."""
    train, val = _iris()
    net = _net(64)
    history = treino.fit(net, train, val, epochs=300, lr=0.05, patience=3, batch_size=8, verbose=0)
    assert history.status == "early_stopped"
    assert history.best_epoch is not None and history.best_epoch == len(history.epochs) - 3
    assert history.restored
    from treino.engine.loop import batch_source, evaluate

    source = batch_source(val, None, None, "multiclass", net)
    now = evaluate(net, source, nn.CrossEntropyLoss(), "multiclass", torch.device("cpu"))["val_loss"]
    assert now == pytest.approx(history.epochs[history.best_epoch - 1]["val_loss"], rel=1e-5)
    assert capsys.readouterr() == ("", "")  # verbose=0: nothing printed


def test_fit_without_validation_data_tracks_the_training_loss():
    train, _ = _iris()
    history = treino.fit(_net(), train, epochs=3, verbose=0)
    assert history.best_epoch is not None
    assert history.findings and history.findings[0]["code"]


def test_fit_says_what_it_trains_and_ends_with_the_diagnosis(capsys):
    train, val = _iris()
    treino.fit(_net(), train, val, epochs=2)
    out = capsys.readouterr().out.splitlines()
    assert out[0] == (
        "treino.fit: Sequential, 259 parameters; multiclass task, loss cross_entropy "
        "(auto: integer labels and several outputs)"
    )
    assert out[1].startswith("completed after 2 epochs, best epoch 2 (weights restored); last: train_loss ")
    assert any(line.startswith("diagnosis: ") for line in out)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"monitor": "val_r2"}, "monitor 'val_r2': not a column of a multiclass history; use val_<metric> "
                                "(or train_<metric>) with one of: loss, accuracy, f1_macro, precision_macro, "
                                "recall_macro"),
        ({"patience": 0}, "patience 0: must be a number of epochs of at least 1, or None"),
    ],
)  # fmt: skip
def test_fit_refuses_a_bad_early_stopping_argument_in_one_line(kwargs, message):
    train, val = _iris()
    with pytest.raises(ValueError) as info:
        treino.fit(_net(), train, val, epochs=1, verbose=0, **kwargs)
    assert str(info.value) == message


def test_history_plot_is_a_figure_of_its_own_and_leaves_pyplot_alone():
    """treino switched matplotlib's global backend: a notebook's own plt.show() showed nothing.
    (tests/test_notebook.py checks the same in a real kernel.)"""
    import matplotlib

    backend = matplotlib.get_backend()
    torch.manual_seed(0)
    x, y = torch.randn(64, 3), torch.randint(0, 2, (64,))
    history = treino.fit(nn.Linear(3, 2), (x, y), (x, y), epochs=2, verbose=0)
    fig = history.plot()
    assert (type(fig).__name__, type(fig.canvas).__name__, len(fig.axes)) == ("Figure", "FigureCanvasAgg", 2)
    assert fig._repr_png_().startswith(b"\x89PNG")  # a notebook shows it without pyplot set up
    assert matplotlib.get_backend() == backend
    html = history._repr_html_()
    assert "<table>" in html and "data:image/png;base64," in html and "Diagnosis" in html
    assert repr(history) == f"History(status='completed', epochs=2, best_epoch={history.best_epoch})"


def test_fit_out_writes_the_run_folder_that_treino_report_renders(tmp_path, cli):
    train, val = _iris()
    net = _net()
    history = treino.fit(net, train, val, epochs=3, out=tmp_path / "run", verbose=0)
    run = tmp_path / "run"
    assert {"config.yaml", "history.csv", "steps.csv", "metrics.json", "report.html", "predictions.csv"} <= {
        p.name for p in run.iterdir()
    }
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["best_epoch"] == history.best_epoch
    assert metrics["diagnosis"] == history.findings
    assert set(metrics["val"]) >= {"loss", "accuracy"}
    from safetensors.torch import load_file

    fresh = _net()
    fresh.load_state_dict(load_file(run / "model" / "weights.safetensors"))
    assert torch.equal(fresh[0].weight, net[0].weight.cpu())
    (run / "report.html").unlink()
    assert cli(["report", run]).exit_code == 0
    page = (run / "report.html").read_text()
    assert "Diagnosis" in page and "data:image/png;base64," in page
    assert "Validation set (the run has no test split)" in page and 'alt="confusion"' in page
    with pytest.raises(treino.errors.RunError) as info:
        treino.load(run)
    assert str(info.value) == (
        f"{run / 'model'}: the model of a treino.fit run (your own module, trained from Python); load its weights "
        f"into your model: net.load_state_dict(safetensors.torch.load_file('{run / 'model' / 'weights.safetensors'}'))"
    )
    with pytest.raises(treino.errors.RunError, match="already holds a run"):
        treino.fit(_net(), train, val, epochs=1, out=run, verbose=0)


LAB_CNN = """
import torch
from torch import nn


class LabCNN(nn.Module):
    # the course's CNN: flattens with view, which an NHWC (channels_last) tensor refuses
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 8, 3, padding=1)
        self.conv2 = nn.Conv2d(8, 8, 3, padding=1)
        self.fc = nn.Linear(8 * 8 * 8, 10)

    def forward(self, x):
        x = torch.relu(self.conv2(torch.relu(self.conv1(x))))
        return self.fc(x.view(x.size(0), -1))
"""


@pytest.mark.slow
def test_the_course_cnn_trains_from_the_cli_on_digits(tmp_path, cli, monkeypatch):
    """treino switched every CNN to channels_last: a forward with x.view(x.size(0), -1) failed."""
    (tmp_path / "mymod.py").write_text(LAB_CNN)
    monkeypatch.chdir(tmp_path)
    result = cli(["train", "--data", "digits", "--set", "model.kind=mymod:LabCNN", "--set", "train.epochs=1",
                  "--out", tmp_path / "run", "-q"])  # fmt: skip
    assert result.exit_code == 0, result.output
    assert json.loads((tmp_path / "run" / "metrics.json").read_text())["status"] == "completed"


class TopNet(nn.Module):
    """A user's model class that takes the data's shapes."""

    def __init__(self, input_shape: tuple[int, ...], n_outputs: int, width: int = 8) -> None:
        super().__init__()
        self.a, self.b = nn.Linear(input_shape[0], width), nn.Linear(width, n_outputs)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.b(torch.relu(self.a(x)))


def test_train_takes_data_a_model_class_and_flat_settings(tmp_path):
    """treino.train(data="iris") raised TypeError; a notebook's own class could not be passed."""
    run = treino.train(
        data="iris", model=TopNet, epochs=2, lr=0.01, batch_size=16, out=tmp_path / "a", quiet=True
    )
    assert run.config.train.epochs == 2 and run.config.optimizer.lr == 0.01
    assert run.config.model.kind.endswith(":TopNet")
    assert run.status == "completed"
    shown = run._repr_html_()  # a notebook shows the run: status, metrics, curves, diagnosis
    assert "<b>completed</b> after 2 epochs" in shown and "<table>" in shown and "data:image/png" in shown
    page = run.report()._repr_html_()  # report.html inline, its styles kept inside its own div
    assert page.startswith("<div class='treino-page'><style>.treino-page{") and "<h1>treino run" in page
    assert "\nbody{" not in page and "}h1{" not in page and "<html" not in page


def test_train_trains_a_model_instance_as_it_is(tmp_path):
    net = TopNet((4,), 3, width=5)
    before = net.a.weight.detach().clone()
    run = treino.train(data="iris", model=net, epochs=2, out=tmp_path / "b", quiet=True)
    assert run.model is net and not torch.equal(net.a.weight, before)
    with pytest.raises(treino.errors.ModelError) as info:
        treino.train(data="iris", model=TopNet((4,), 2), epochs=1, out=tmp_path / "c", quiet=True)
    assert str(info.value).endswith("but this multiclass task needs (2, 3) (3 logits per sample, one per class); "
                                    "make its last layer output 3")  # fmt: skip


def test_train_keeps_a_config_with_overrides_and_takes_dotted_settings(tmp_path):
    run = treino.train({"data": {"source": "iris"}}, ["train.epochs=1"], out=tmp_path / "d", quiet=True,
                       **{"optimizer.eps": 1e-7})  # fmt: skip
    assert (run.config.train.epochs, run.config.optimizer.eps) == (1, 1e-7)


def test_train_names_an_unknown_setting_and_a_class_it_cannot_build_by_name(tmp_path):
    with pytest.raises(ConfigError) as info:
        treino.train(data="iris", epochz=3)
    assert str(info.value).startswith(
        "treino.train: unknown setting 'epochz' (did you mean 'epochs'?); use one of epochs, batch_size, lr,"
    )

    class Local(TopNet):
        pass

    with pytest.raises(ConfigError) as info:
        treino.train(data="iris", model=Local)
    assert str(info.value) == (
        "treino.train: model class test_train_names_an_unknown_setting_and_a_class_it_cannot_build_by_name."
        "<locals>.Local is defined inside a function, so treino cannot build it by name; define it at the top "
        "level of your notebook or module, or pass an instance"
    )


def test_predict_takes_one_row_as_a_dict_and_names_a_missing_column(tmp_path):
    treino.train(data="iris", epochs=1, out=tmp_path / "e", quiet=True)
    predictor = treino.load(tmp_path / "e")
    row = {
        "sepal length (cm)": 5.1,
        "sepal width (cm)": 3.5,
        "petal length (cm)": 1.4,
        "petal width (cm)": 0.2,
    }
    assert predictor.predict(row).shape == (1,)
    assert predictor.predict([row, row]).shape == (2,)
    assert predictor.predict_proba(row).shape == (1, 3)
    with pytest.raises(DataError) as info:
        predictor.predict([row, {k: v for k, v in row.items() if k != "petal width (cm)"}])
    assert str(info.value) == (
        "predict: row 1 has no 'petal width (cm)'; give every input column: 'sepal length (cm)', "
        "'sepal width (cm)', 'petal length (cm)', 'petal width (cm)'"
    )


def test_a_comparison_shows_its_table_and_curves(tmp_path):
    import pandas as pd

    from treino.experiments.compare import Comparison

    (tmp_path / "plots").mkdir()
    fig = treino.fit(nn.Linear(3, 1), (torch.randn(8, 3), torch.randn(8)), epochs=1, verbose=0).plot()
    fig.savefig(tmp_path / "plots" / "curves.png")
    summary = pd.DataFrame(
        {"label": ["optimizer.name=sgd", "optimizer.name=adam"], "val_loss_mean": [0.5, 0.25]}
    )
    shown = Comparison(tmp_path, summary, tmp_path / "compare.html")._repr_html_()
    assert "optimizer.name=adam" in shown and "<td>0.25</td>" in shown and shown.count("data:image/png") == 1


def test_help_of_fit_shows_the_learners_arguments():
    """treino.fit was the engine's loop: patience= raised TypeError and help() showed none of these."""
    import inspect

    params = inspect.signature(treino.fit).parameters
    assert {"verbose", "patience", "monitor", "min_delta", "restore_best", "out"} <= set(params)
    assert treino.fit.__module__ == "treino.run.fit"


def test_the_diagnosis_advises_in_fits_own_terms() -> None:
    from treino.run.fit import in_fit_terms

    said = [
        "train longer, e.g. --set train.epochs=160, or raise optimizer.lr.",
        "Use a smaller initialization (model.init: kaiming_normal or xavier_normal), set "
        "train.clip_grad (e.g. 1.0), add model.batch_norm, and keep data.scale: standard.",
        "Lower optimizer.lr, use model.activation: leaky_relu or gelu.",
        "Keep train.early_stopping on (it keeps the best epoch's weights), add model.dropout or train.l2",
    ]
    assert [in_fit_terms(s) for s in said] == [
        "train longer, e.g. epochs=160, or raise lr.",
        "Use a smaller initialization (kaiming_normal or xavier_normal initialization in your module), "
        "set clip_grad= (e.g. 1.0), add batch norm layers, and standardize the inputs.",
        "Lower lr, use leaky_relu or gelu activations in your module.",
        "Keep patience= on (it keeps the best epoch's weights), add nn.Dropout layers or l2=",
    ]
