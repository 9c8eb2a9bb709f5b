"""QA: misuse bugs found by the QA pass, each reproduced, then fixed."""

from __future__ import annotations

import pytest


def test_tune_with_a_metric_the_task_lacks_prints_the_error_alone(cli, capfd, tmp_path):
    # optuna logged the failed trial with its traceback before treino's one-line error
    config = tmp_path / "tune.yaml"
    config.write_text(
        "data: {source: iris}\ntrain: {epochs: 1}\nlog: {plots: false}\n"
        "tune:\n  optimizer.lr: {log_uniform: [0.001, 0.1]}\n"
    )
    result = cli(["tune", config, "--trials", 1, "--metric", "val_r2", "--out", tmp_path / "t", "-q"])
    printed = result.output + capfd.readouterr().err  # optuna's handler may hold the process's stderr
    assert result.exit_code == 2
    assert printed.strip() == (
        "error: --metric val_r2: not measured for this multiclass task; use one of: val_loss, "
        "val_accuracy, val_f1_macro, val_precision_macro, val_recall_macro"
    )


def test_load_on_cuda_without_a_gpu_names_the_fix(tmp_path):
    # torch's "AssertionError: Torch not compiled with CUDA enabled" came out of model.to()
    import pytest
    import torch

    import treino
    from treino.errors import ConfigError

    if torch.cuda.is_available():
        pytest.skip("a GPU is visible: cuda is a valid device here")
    with pytest.raises(ConfigError) as info:
        treino.load(tmp_path / "no-run", device="cuda")
    assert str(info.value) == (
        "treino.load: device 'cuda': no GPU is visible here; use device='cpu' "
        "(or 'auto': the GPU when there is one)"
    )
    with pytest.raises(ConfigError) as info:
        treino.load(tmp_path / "no-run", device="gpu")
    assert str(info.value) == "treino.load: device 'gpu' is not a device; use device='cpu', 'cuda' or 'auto'"


def test_a_one_epoch_run_is_too_short_to_judge_not_a_plateau(cli, tmp_path):
    # every 1-epoch run was diagnosed plateau_early: its one mean loss lies halfway down the curve
    import json

    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(0)
    x = rng.normal(size=(60, 2))
    path = tmp_path / "plain.csv"
    pd.DataFrame({"a": x[:, 0], "b": x[:, 1], "y": (x[:, 0] > 0).astype(int)}).to_csv(path, index=False)
    out = tmp_path / "r"
    args = ["--set", "train.epochs=1", "--set", "train.batch_size=16", "--set", "log.plots=false"]
    result = cli(["train", "--data", path, "--target", "y", *args, "--out", out, "-q"])
    assert result.exit_code == 0, result.output
    (found,) = json.loads((out / "metrics.json").read_text())["diagnosis"]
    assert found["code"] == "too_few_epochs"
    assert found["message"] == (
        "one epoch (3 iterations) is too few to judge the training curve (plateau, overfitting, "
        "convergence): train more epochs (e.g. train.epochs: 10) for a diagnosis."
    )


def test_one_epoch_of_many_iterations_is_judged_on_them():
    import numpy as np
    import pandas as pd

    from treino.report.diagnosis import diagnose

    history = pd.DataFrame({"epoch": [1], "train_loss": [0.69], "val_loss": [0.69]})
    flat = pd.DataFrame({"step": range(1, 101), "epoch": 1, "loss": np.full(100, 0.69)})
    assert [f["code"] for f in diagnose(history, flat)] == ["plateau_early"]
    # it fell and levelled off within the epoch: fine so far, but one epoch shows no more
    level = pd.DataFrame({"step": range(1, 101), "epoch": 1, "loss": 0.3 + 0.7 * np.exp(-np.arange(100) / 5)})
    history = pd.DataFrame({"epoch": [1], "train_loss": [0.4], "val_loss": [0.35]})
    assert [f["code"] for f in diagnose(history, level)] == ["too_few_epochs"]


def _rows(n: int = 30) -> str:
    return "".join(f"{i * 0.5},{'São Paulo' if i % 2 else 'Bogotá'},{i % 2}\n" for i in range(n))


def test_a_utf16_csv_is_read_not_called_binary(tmp_path):
    # Excel's "Unicode text" and UTF-16 exports: "not a text table (binary content)"
    from treino.data.tables import read_table

    for encoding, bom in (("utf-16-le", b"\xff\xfe"), ("utf-16-be", b"\xfe\xff"), ("utf-8", b"\xef\xbb\xbf")):
        path = tmp_path / f"{encoding}.csv"
        path.write_bytes(bom + ("área,cidade,y\n" + _rows()).encode(encoding))
        frame = read_table(path)
        assert list(frame.columns) == ["área", "cidade", "y"], encoding
        assert frame["cidade"].iloc[:2].tolist() == ["Bogotá", "São Paulo"]
        assert frame["área"].iloc[-1] == 14.5
    tab = tmp_path / "unicode.txt"  # Excel: tab-separated UTF-16 LE
    tab.write_text("área\tcidade\ty\n" + _rows().replace(",", "\t"), encoding="utf-16")
    assert read_table(tab).shape == (30, 3)
    lines = tmp_path / "rows.jsonl"
    lines.write_text('{"a": 1, "y": "sim"}\n{"a": 2, "y": "não"}\n', encoding="utf-16")
    assert read_table(lines)["y"].tolist() == ["sim", "não"]


def test_train_and_predict_on_utf16_csv(cli, tmp_path):
    path = tmp_path / "vendas.csv"
    path.write_text("área,cidade,y\n" + _rows(), encoding="utf-16")
    out = tmp_path / "r"
    result = cli(["train", "--data", path, "--target", "y", "--set", "train.epochs=1", "--out", out, "-q"])
    assert result.exit_code == 0, result.output
    result = cli(["predict", out, path, "--output", tmp_path / "p.csv"])
    assert result.exit_code == 0, result.output
    import pandas as pd

    assert len(pd.read_csv(tmp_path / "p.csv")) == 30


def test_nul_bytes_without_a_bom_are_still_binary(tmp_path):
    import pytest

    from treino.data.tables import read_table
    from treino.errors import DataError

    path = tmp_path / "blob.csv"
    path.write_bytes(b"a,b\x00\x01\x02\n")
    with pytest.raises(DataError) as info:
        read_table(path)
    assert str(info.value) == f"{path}: not a text table (binary content); give a CSV/TSV/Parquet/JSONL file"


def test_predict_reads_npz_arrays_as_evaluate_does(cli, tmp_path):
    # `treino predict RUN x.npz`: "unknown table format '.npz'", though training and evaluate read it
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(0)
    x = rng.normal(size=(40, 3)).astype(np.float32)
    np.savez(tmp_path / "train.npz", x=x, y=(x[:, 0] > 0).astype(np.int64))
    np.savez(tmp_path / "new.npz", x=x[:5])
    out = tmp_path / "r"
    result = cli(["train", "--data", tmp_path / "train.npz", "--set", "train.epochs=1", "--out", out, "-q"])
    assert result.exit_code == 0, result.output
    result = cli(["predict", out, tmp_path / "new.npz", "--output", tmp_path / "p.csv", "-q"])
    assert result.exit_code == 0, result.output
    import treino

    predictor = treino.load(out)
    written = pd.read_csv(tmp_path / "p.csv")
    assert written["prediction"].astype(str).tolist() == predictor.predict(x[:5]).tolist()
    np.savez(tmp_path / "wide.npz", x=x[:, :2])
    result = cli(["predict", out, tmp_path / "wide.npz"])
    assert result.exit_code == 2
    assert result.output.strip().splitlines()[-1] == (
        f"error: {tmp_path / 'wide.npz'}: array 'x' has shape (40, 2), but the model takes rows of 3 raw "
        f"columns (x0, x1, x2); save (N, 3) as x"
    )
    np.savez(tmp_path / "labels.npz", y=np.zeros(3))
    result = cli(["predict", out, tmp_path / "labels.npz"])
    assert result.output.strip().splitlines()[-1] == (
        f"error: {tmp_path / 'labels.npz'}: arrays y; name the input array x (or images)"
    )


def test_predict_reads_npz_images_at_the_models_size(cli, tmp_path):
    import numpy as np

    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, size=(24, 8, 8), dtype=np.uint8)  # (N, H, W) 0..255, as saved
    np.savez(tmp_path / "train.npz", images=images, labels=np.arange(24) % 2)
    np.savez(tmp_path / "new.npz", images=rng.integers(0, 256, size=(3, 16, 16), dtype=np.uint8))
    out = tmp_path / "r"
    args = ["--set", "train.epochs=1", "--set", "model.kind=mlp", "--set", "model.hidden=[4]"]
    result = cli(["train", "--data", tmp_path / "train.npz", *args, "--out", out, "-q"])
    assert result.exit_code == 0, result.output
    import treino

    predictor = treino.load(out)
    assert predictor.predict(tmp_path / "new.npz").shape == (3,)  # resized 16x16 -> 8x8
    direct = predictor.predict_proba(tmp_path / "train.npz")
    again = predictor.predict_proba(images[:, None].astype(np.float32) / 255)
    np.testing.assert_allclose(direct, again, rtol=1e-5)


def _nested_jsonl(path, n: int = 40) -> None:
    import json

    with path.open("w") as handle:
        for i in range(n):
            row = {
                "info": {"age": 20 + (i * 7) % 31, "home": {"city": "Lima" if i % 2 else "Quito"}},
                "tags": ["a", "b"][: i % 3],
            }
            handle.write(json.dumps({**row, "y": i % 2}) + "\n")


def test_nested_jsonl_objects_become_columns_and_lists_are_dropped_with_a_note(cli, tmp_path):
    # {"info": {"age": 20}} was one categorical column of the dict's text (one-hot of "{'age': 20}")
    import json

    from treino.data.tables import read_table

    path = tmp_path / "people.jsonl"
    _nested_jsonl(path)
    frame = read_table(path)
    assert list(frame.columns) == ["info.age", "info.home.city", "tags", "y"]
    assert frame["info.age"].iloc[3] == 41 and frame["info.home.city"].iloc[3] == "Lima"
    out = tmp_path / "r"
    args = ["--set", "train.epochs=1", "--set", "log.plots=false"]
    result = cli(["train", "--data", path, "--target", "y", *args, "--out", out, "-q"])
    assert result.exit_code == 0, result.output
    notes = json.loads((out / "metrics.json").read_text())["data"]["notes"]
    assert "inputs: numeric info.age; categorical info.home.city" in notes
    assert (
        "column 'tags' holds lists: dropped (an input takes one value per cell; spread or join them)" in notes
    )
    import treino

    predictor = treino.load(out, quiet=True)
    assert predictor.columns == ["info.age", "info.home.city"]
    assert predictor.predict(path).tolist() == predictor.predict(frame).tolist()
    result = cli(
        [
            "train",
            "--data",
            path,
            "--target",
            "y",
            "--set",
            "data.features=[tags]",
            *args,
            "--out",
            tmp_path / "r2",
        ]
    )
    assert result.exit_code == 2
    assert result.output.strip().splitlines()[-1] == (
        f"error: {path}: column 'tags' holds lists, which cannot be a model input; remove it from "
        f"data.features, or spread or join its values into columns of one value per cell"
    )


def test_a_column_of_objects_and_plain_values_keeps_both():
    import pandas as pd

    from treino.data.tables import flatten_objects

    frame = flatten_objects(pd.DataFrame({"a": [{"b": 1}, 5, None], "y": [1, 2, 3]}))
    assert list(frame.columns) == ["a", "a.b", "y"]
    assert frame["a"].tolist()[1] == 5 and frame["a.b"].tolist()[0] == 1


def test_a_monitor_typo_is_matched_against_the_tasks_metrics(cli, tmp_path):
    # val_acc on a multiclass run suggested 'auc', a metric only binary runs have
    args = ["--set", "train.epochs=1", "--set", "train.early_stopping.monitor=val_acc"]
    result = cli(["train", "--data", "iris", *args, "--out", tmp_path / "r", "-q"])
    assert result.exit_code == 2
    assert result.output.strip().splitlines()[-1] == (
        "error: train.early_stopping.monitor: unknown metric 'val_acc' (did you mean 'val_accuracy'?); "
        "use val_<metric> with one of: loss, accuracy, f1_macro, precision_macro, recall_macro"
    )


def _formatted(path, rows: int = 40, sep: str = ",", bad: str | None = None) -> None:
    """rate '51.3%', amount '1,377' (or European '1.377,5' with sep ';'), y."""
    import numpy as np
    import pandas as pd

    x = np.random.default_rng(0).normal(size=rows)
    if sep == ",":
        amount = [f"{abs(v) * 3000 + 1000:,.0f}" for v in x]
    else:
        amount = [
            f"{abs(v) * 3000 + 1000:,.1f}".replace(",", " ").replace(".", ",").replace(" ", ".") for v in x
        ]
    frame = pd.DataFrame(
        {"rate": [f"{v * 10 + 50:.1f}%" for v in x], "amount": amount, "y": (x > 0).astype(int)}
    )
    if bad is not None:
        frame.loc[17, "rate"] = bad
    frame.to_csv(path, index=False, sep=sep)


def test_percents_and_thousands_separators_are_numbers_in_train_and_predict(cli, tmp_path):
    # '12%' and '1,234' were read as text distinct per row and dropped as ids
    import json

    import numpy as np
    import pandas as pd

    import treino

    for sep, amount_note in ((",", "'1,234.5': read as numbers (1,234.5 -> 1234.5)"),
                             (";", "'1.234,5': read as numbers (1.234,5 -> 1234.5)")):  # fmt: skip
        path, out = tmp_path / f"rates{sep}.csv", tmp_path / f"r{sep}"
        _formatted(path, sep=sep)
        args = ["--set", "train.epochs=2", "--set", "log.plots=false"]
        result = cli(["train", "--data", path, "--target", "y", *args, "--out", out, "-q"])
        assert result.exit_code == 0, result.output
        notes = json.loads((out / "metrics.json").read_text())["data"]["notes"]
        assert "inputs: numeric rate, amount" in notes
        assert (
            "column 'rate' holds percents written like '12.5%': read as fractions (12.5% -> 0.125)" in notes
        )
        assert f"column 'amount' holds numbers written like {amount_note}" in notes
        predictor = treino.load(out, quiet=True)
        raw = pd.read_csv(path, sep=sep)
        plain = pd.DataFrame({  # the same rows written plainly: 51.3% -> 0.513, 1,377 -> 1377
            "rate": raw["rate"].str.rstrip("%").astype(float) / 100,
            "amount": raw["amount"].str.replace("." if sep == ";" else ",", "").str.replace(",", ".").astype(float),
        })  # fmt: skip
        np.testing.assert_allclose(predictor.predict_proba(path), predictor.predict_proba(plain), rtol=1e-6)
        np.testing.assert_allclose(predictor.predict_proba(raw), predictor.predict_proba(plain), rtol=1e-6)


def test_a_bad_value_in_a_percent_column_is_named_in_train_and_predict(cli, tmp_path):
    path = tmp_path / "rates.csv"
    _formatted(path, bad="about half")
    result = cli(["train", "--data", path, "--target", "y", "--out", tmp_path / "r", "-q"])
    assert result.exit_code == 2
    assert result.output.strip().splitlines()[-1] == (
        f"error: {path}: column 'rate' holds numbers but row 18 has 'about half'; fix that value or leave the cell empty"
    )
    good = tmp_path / "good.csv"
    _formatted(good)
    args = ["--set", "train.epochs=1", "--set", "log.plots=false", "--out", tmp_path / "r2", "-q"]
    assert cli(["train", "--data", good, "--target", "y", *args]).exit_code == 0
    result = cli(["predict", tmp_path / "r2", path])
    assert result.exit_code == 2
    assert result.output.strip().splitlines()[-1] == (
        f"error: {path}: column 'rate' holds numbers but row 18 has 'about half'; fix that value or leave the cell empty"
    )


def test_number_formats_are_told_apart():
    import pandas as pd

    from treino.data.numbers import number_format, parse_numbers

    cases = {
        ("1,234", "56", "-7,890.5"): (",", ".", False, [1234, 56, -7890.5]),
        ("1 234", "12\u00a0345,5"): (" ", ",", False, [1234, 12345.5]),
        ("1.234,5", "12,75"): (".", ",", False, [1234.5, 12.75]),
        ("3,5", "12,25"): ("", ",", False, [3.5, 12.25]),
        ("12%", "7.5 %", "-3%"): ("", ".", True, [0.12, 0.075, -0.03]),
        ("12,5%", "100%"): ("", ",", True, [0.125, 1.0]),
    }
    for values, (thousands, decimal, percent, expected) in cases.items():
        fmt = number_format(pd.Series(values))
        assert fmt == {"thousands": thousands, "decimal": decimal, "percent": percent}, values
        assert parse_numbers(pd.Series(values), fmt).tolist() == pytest.approx(expected)
    for text in (("red", "blue"), ("1,2,3", "4"), ("12%", "13"), ("2024-01-05", "2024-02-01")):
        assert number_format(pd.Series(text)) is None, text


def test_a_streamed_parquet_reads_percents_as_the_whole_table_does(tmp_path):
    # the streaming pass computed the scaling of a '12%' column from NaNs (scale 1, shift its fill)
    import numpy as np
    import pandas as pd
    import torch

    from treino.config import DataConfig
    from treino.data.load import load

    x = np.random.default_rng(0).normal(size=2000)
    frame = pd.DataFrame({"rate": [f"{v * 10 + 50:.1f}%" for v in x], "label": np.where(x > 0, "yes", "no")})
    frame.to_parquet(tmp_path / "rates.parquet", row_group_size=250)
    found = []
    for budget in ("1KB", "auto"):  # streamed by row groups, then read whole
        cfg = DataConfig(source=str(tmp_path / "rates.parquet"), target="label", memory_budget=budget)
        (rate,) = load(cfg, torch.Generator().manual_seed(0), 0).preprocessing["columns"]
        found.append(rate)
    for rate in found:
        assert rate["format"] == {"thousands": "", "decimal": ".", "percent": True}
        assert rate["shift"] == pytest.approx(0.5, abs=0.01) and rate["scale"] == pytest.approx(
            0.1, abs=0.005
        )
