"""Tables: the readers, the inference rules, no leakage, the JSON preprocessing and zero-config
training of a messy CSV against a hand-tuned scikit-learn baseline."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import torch

from treino.config import DataConfig
from treino.data.load import load
from treino.data.preprocess import TablePreprocessor, transform_frame
from treino.data.tables import column_role, infer_task


def _load(source, **kw):
    return load(DataConfig(source=str(source), **kw), torch.Generator().manual_seed(0), 0)


def _frame(n: int = 60, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame({"a": rng.normal(5, 2, n), "b": rng.choice(["x", "y", "z"], n),
                         "label": rng.choice(["yes", "no"], n)})  # fmt: skip


@pytest.mark.parametrize("suffix", [".csv", ".tsv", ".parquet", ".jsonl"])
def test_each_table_format_reads_the_same(tmp_path, suffix):
    frame = _frame()
    path = tmp_path / f"t{suffix}"
    if suffix == ".csv":
        frame.to_csv(path, index=False)
    elif suffix == ".tsv":
        frame.to_csv(path, sep="\t", index=False)
    elif suffix == ".parquet":
        frame.to_parquet(path)
    else:
        frame.to_json(path, orient="records", lines=True)
    data = _load(path, target="label")
    assert data.info.task == "binary"
    assert data.info.roles == {"a": "numeric", "b": "categorical"}
    assert data.info.features == ["a", "b=x", "b=y", "b=z"]
    assert sum(data.info.sizes.values()) == 60


def test_semicolon_csv_is_sniffed(tmp_path):
    path = tmp_path / "t.csv"
    _frame().to_csv(path, sep=";", index=False)
    assert _load(path, target="label").info.input_shape == (4,)


@pytest.mark.parametrize(
    ("values", "task"),
    [
        (np.linspace(0, 1, 50), "regression"),
        ([1, 2, 3] * 20, "multiclass"),
        ([0, 1] * 30, "binary"),
        ([True, False] * 30, "binary"),
        (["a", "b", "c"] * 20, "multiclass"),
        (list(range(60)), "regression"),  # many integers: a count, not classes
        ([1.0, 2.0, np.nan] * 20, "binary"),
    ],
)
def test_task_inference(values, task):
    assert infer_task(pd.Series(values)) == task


def test_column_roles():
    n = 40
    rng = np.random.default_rng(1)
    words = "the film was good bad long short fun dull great".split()
    assert column_role(pd.Series(rng.normal(size=n))) == "numeric"
    assert column_role(pd.Series(rng.choice(["red", "blue"], n))) == "categorical"
    assert column_role(pd.Series([True, False] * 20)) == "categorical"
    assert column_role(pd.Series([" ".join(rng.choice(words, 6)) for _ in range(n)])) == "text"
    assert column_role(pd.Series([f"u{i:05d}" for i in range(n)])) == "id"
    assert column_role(pd.Series(rng.permutation(n) + 1)) == "id"
    assert column_role(pd.Series([f"2024-01-{d:02d}" for d in range(1, 29)])) == "datetime"
    assert column_role(pd.Series([np.nan] * n)) == "empty"


def test_row_numbers_with_gaps_and_id_named_columns_are_ids(tmp_path):
    # R's row names after rows were dropped (ISLR Auto: 392 rows numbered 1..397) and an 'id'
    # column with gaps (mosaicData HELPrct) were trained on as numbers
    rng = np.random.default_rng(2)
    kept = np.sort(rng.choice(np.arange(1, 61), 45, replace=False))
    frame = pd.DataFrame({"rownames": kept, "id": rng.permutation(kept), "x": rng.normal(size=45)})
    frame["y"] = frame.x * 2 + rng.normal(size=45)
    frame.to_csv(tmp_path / "t.csv", index=False)
    data = load(DataConfig(source=str(tmp_path / "t.csv"), target="y"), torch.Generator().manual_seed(0))
    assert data.info.roles == {"x": "numeric"}
    assert (
        "column 'rownames' looks like an id (distinct per row): dropped (name it in data.features to keep it)"
        in data.info.notes
    )
    # rising or unique alone is not enough: whole numbers that go up and down, or rising measurements
    assert column_role(pd.Series(rng.permutation(np.arange(0, 200, 4)))) == "numeric"
    assert column_role(pd.Series(np.sort(rng.normal(size=50)))) == "numeric"


def test_task_override_and_multi_output(tmp_path):
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"x": rng.normal(size=50), "k": [1, 2, 3, 4, 5] * 10, "z": rng.normal(size=50)})
    frame.to_csv(tmp_path / "t.csv", index=False)
    assert _load(tmp_path / "t.csv", target="k").info.task == "multiclass"
    assert _load(tmp_path / "t.csv", target="k", task="regression").info.task == "regression"
    multi = _load(tmp_path / "t.csv", target=["k", "z"])
    assert multi.info.task == "regression" and multi.train.y.shape[1] == 2 and multi.info.n_outputs == 2


def test_scaler_statistics_are_the_train_splits_not_the_whole_data(tmp_path):
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"a": rng.exponential(3, 200), "y": rng.normal(size=200)})
    frame.loc[::7, "a"] = np.nan
    frame.to_csv(tmp_path / "t.csv", index=False)
    data = _load(tmp_path / "t.csv", target="y")
    col = data.preprocessing["columns"][0]
    raw = pd.read_csv(tmp_path / "t.csv")
    # the train rows are the ones whose transformed value matches the train tensor
    a = raw["a"]
    fill = col["fill"]
    scaled_all = ((a.fillna(fill) - col["shift"]) / col["scale"]).to_numpy(dtype=np.float32)
    train_x = data.train.x[:, 0].numpy()
    assert abs(train_x.mean()) < 1e-5 and abs(train_x.std() - 1) < 1e-4  # standardized on train
    assert abs(scaled_all.mean()) > 1e-3  # ... and so not on the whole data
    train_rows = np.isin(scaled_all, train_x)
    assert fill == pytest.approx(float(a[train_rows].median()))
    assert data.preprocessing["target"]["mean"][0] == pytest.approx(float(data.train.y.mean()), abs=1e-5)


def test_preprocessing_is_json_and_rebuilds_the_features(tmp_path):
    frame = _frame(80)
    frame.loc[3, "a"] = np.nan
    frame.loc[5, "b"] = np.nan
    frame.to_csv(tmp_path / "t.csv", index=False)
    data = _load(tmp_path / "t.csv", target="label")
    state = json.loads(json.dumps(data.preprocessing))
    x = TablePreprocessor(state["columns"]).transform(frame)
    assert x.shape == (80, len(data.info.features))
    assert data.info.features[-1] == "b:missing" and "a:missing" in data.info.features
    rows = {tuple(np.round(r, 5)) for r in x}
    assert all(tuple(np.round(r, 5)) in rows for r in data.test.x.numpy())
    # a raw frame for prediction: any column order, extra columns ignored, unseen category -> zeros
    new = pd.DataFrame({"id": [1], "b": ["never-seen"], "a": [5.0]})
    out = transform_frame(state, new, "new.csv")
    assert out.shape == (1, len(data.info.features)) and out[0, 2:5].sum() == 0


def test_split_column_and_separate_test_file(tmp_path):
    frame = _frame(60)
    frame["fold"] = ["train"] * 40 + ["val"] * 10 + ["test"] * 10
    frame.to_csv(tmp_path / "t.csv", index=False)
    data = _load(tmp_path / "t.csv", target="label", split={"column": "fold"})
    assert data.info.sizes == {"train": 40, "val": 10, "test": 10}
    assert "fold" not in data.info.roles
    _frame(50, 1).to_csv(tmp_path / "train.csv", index=False)
    _frame(20, 2).to_csv(tmp_path / "test.csv", index=False)
    sep = _load(tmp_path / "train.csv", target="label", test=str(tmp_path / "test.csv"))
    assert sep.info.sizes["test"] == 20 and sep.info.sizes["train"] + sep.info.sizes["val"] == 50


def test_dates_are_expanded_and_index_encoding(tmp_path):
    rng = np.random.default_rng(0)
    days = pd.Timestamp("2021-01-01") + pd.to_timedelta(rng.integers(0, 700, 60), unit="D")
    frame = pd.DataFrame({"when": days.strftime("%Y-%m-%d"), "c": rng.choice(["p", "q"], 60),
                          "y": rng.normal(size=60)})  # fmt: skip
    frame.to_csv(tmp_path / "t.csv", index=False)
    data = _load(tmp_path / "t.csv", target="y", categorical="index")
    assert data.info.features == ["when.year", "when.month", "when.day", "when.day_of_week", "c"]
    assert set(np.unique(data.train.x[:, 4].numpy())) <= {0.0, 1.0, 2.0}
    dropped = _load(tmp_path / "t.csv", target="y", datetime="drop")
    assert dropped.info.features == ["c=p", "c=q"]
    assert "column 'when' holds dates: dropped (data.datetime: drop)" in dropped.info.notes


def _messy_csv(path, n: int = 600) -> pd.DataFrame:
    """House listings as they come: an id, gaps everywhere, a category, free text, a date."""
    rng = np.random.default_rng(0)
    area = rng.uniform(40, 200, n)
    rooms = rng.integers(1, 6, n).astype(float)
    city = rng.choice(["Lisboa", "Porto", "Braga", "Faro"], n)
    bonus = {"Lisboa": 80, "Porto": 40, "Braga": 10, "Faro": 30}
    filler = "bright quiet central spacious modern classic cosy family new old large small street".split()
    pool = rng.random(n) < 0.4
    desc = [" ".join([*rng.choice(filler, 4), *(["with", "pool"] if g else ["no", "extras"]), *rng.choice(filler, 2)])
            for g in pool]  # fmt: skip
    listed = pd.Timestamp("2020-01-01") + pd.to_timedelta(rng.integers(0, 1500, n), unit="D")
    price = 2.0 * area + 15 * rooms + np.array([bonus[c] for c in city]) + 60 * pool + rng.normal(0, 10, n)
    frame = pd.DataFrame({"listing_id": [f"L{100000 + i}" for i in rng.permutation(n)], "area": area.round(1),
                          "rooms": rooms, "city": city, "description": desc,
                          "listed": listed.strftime("%Y-%m-%d"), "price": price.round(1)})  # fmt: skip
    for col, share in (
        ("area", 0.05),
        ("rooms", 0.1),
        ("city", 0.08),
        ("description", 0.05),
        ("price", 0.05),
    ):
        frame.loc[rng.random(n) < share, col] = np.nan
    frame.to_csv(path, index=False)
    return frame


def _baseline_r2(frame: pd.DataFrame) -> float:
    """A hand-tuned scikit-learn pipeline: imputation, one-hot, TF-IDF, cross-validated ridge."""
    from sklearn.compose import ColumnTransformer
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.impute import SimpleImputer
    from sklearn.linear_model import RidgeCV
    from sklearn.metrics import r2_score
    from sklearn.model_selection import train_test_split
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    frame = frame.dropna(subset=["price"]).assign(description=lambda f: f["description"].fillna(""))
    train, test = train_test_split(frame, test_size=0.15, random_state=0)
    columns = ColumnTransformer([
        ("num", make_pipeline(SimpleImputer(strategy="median", add_indicator=True), StandardScaler()),
         ["area", "rooms"]),
        ("cat", make_pipeline(SimpleImputer(strategy="most_frequent"), OneHotEncoder(handle_unknown="ignore")),
         ["city"]),
        ("txt", TfidfVectorizer(), "description"),
    ])  # fmt: skip
    model = make_pipeline(columns, RidgeCV(alphas=np.logspace(-3, 3, 13))).fit(train, train["price"])
    return float(r2_score(test["price"], model.predict(test)))


def test_messy_csv_trains_with_zero_config_near_a_tuned_baseline(tmp_path, cli):
    frame = _messy_csv(tmp_path / "listings.csv")
    result = cli(["train", "--data", tmp_path / "listings.csv", "--target", "price", "--out", tmp_path / "run",
                  "--set", "log.plots=false"])  # fmt: skip
    assert result.exit_code == 0, result.output
    metrics = json.loads((tmp_path / "run" / "metrics.json").read_text())
    notes = metrics["data"]["notes"]
    assert notes[0] == f"dropped {int(frame['price'].isna().sum())} rows with an empty target"
    assert "inputs: numeric area, rooms; categorical city; text description; datetime listed" in notes
    assert any(n.startswith("column 'listing_id' looks like an id") for n in notes)
    baseline = _baseline_r2(frame)  # about 0.97 on this data
    assert metrics["test"]["r2"] > baseline - 0.05, (metrics["test"]["r2"], baseline)


def test_prediction_input_with_garbage_or_a_missing_column_is_named(tmp_path):
    from treino.errors import DataError

    _frame(40).to_csv(tmp_path / "t.csv", index=False)
    state = _load(tmp_path / "t.csv", target="label").preprocessing
    with pytest.raises(DataError) as err:
        transform_frame(state, pd.DataFrame({"a": ["1.5", "n/a?"], "b": ["x", "y"]}), "new.csv")
    assert (
        str(err.value)
        == "new.csv: column 'a' holds numbers but row 2 has 'n/a?'; fix that value or leave the cell empty"
    )
    with pytest.raises(DataError) as err:
        transform_frame(state, pd.DataFrame({"a": [1.0]}), "new.csv")
    assert str(err.value) == (
        "new.csv: missing input column(s) 'b' that the model was trained on; add them (empty cells are imputed)"
    )


def test_separator_is_sniffed_from_the_first_lines(tmp_path):
    from treino.data.tables import read_table

    (tmp_path / "a.csv").write_text('name;note;y\n"Silva, Ana";"a, b";1\nRui;c;2\n')
    (tmp_path / "b.csv").write_text("x|y\n1|2\n3|4\n")
    assert read_table(tmp_path / "a.csv")["name"].tolist() == ["Silva, Ana", "Rui"]
    assert read_table(tmp_path / "b.csv").columns.tolist() == ["x", "y"]


def test_transform_keeps_the_column_order_around_indicators():
    frame = pd.DataFrame(
        {"a": [1.0, 2.0, 3.0], "b": ["x", "y", "x"], "c": [1.0, np.nan, 3.0], "d": [0.0, 5.0, 10.0]}
    )
    roles = {"a": "numeric", "b": "categorical", "c": "numeric", "d": "numeric"}
    prep = TablePreprocessor.fit(frame, roles, scale="minmax")
    assert prep.feature_names == ["a", "b=x", "b=y", "c", "c:missing", "d"]
    x = prep.transform(frame)
    expected = [[0, 1, 0, 0, 0, 0], [0.5, 0, 1, 0.5, 1, 0.5], [1, 1, 0, 1, 0, 1]]
    assert np.allclose(x, expected)


def test_the_resolved_config_reproduces_the_text_vocabulary(tmp_path):
    # regression: the TF-IDF size of a text column in a table once depended on whether the key
    # was set, so `treino train runs/x/config.yaml` (every key written out) built other features
    _messy_csv(tmp_path / "listings.csv", n=200)
    cfg = DataConfig(source=str(tmp_path / "listings.csv"), target="price")
    again = DataConfig.model_validate(cfg.model_dump(mode="json"))
    first, second = (load(c, torch.Generator().manual_seed(0), 0) for c in (cfg, again))
    assert first.info.features == second.info.features
    assert "text columns: at most 20 TF-IDF terms each (set data.text.max_features)" in first.info.notes


def _nested_jsonl(path, n: int = 40) -> None:
    """JSONL rows with a nested object, a list and a 0/1 label y."""
    import json

    with path.open("w") as handle:
        for i in range(n):
            row = {
                "info": {"age": 20 + (i * 7) % 31, "home": {"city": "Lima" if i % 2 else "Quito"}},
                "tags": ["a", "b"][: i % 3],
            }
            handle.write(json.dumps({**row, "y": i % 2}) + "\n")


def test_nested_jsonl_objects_become_columns_and_lists_are_dropped_with_a_note(cli, tmp_path):
    """A nested JSONL object was one categorical column of the dict's text."""
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
    """A column mixing objects and plain values keeps both when flattened."""
    import pandas as pd

    from treino.data.tables import flatten_objects

    frame = flatten_objects(pd.DataFrame({"a": [{"b": 1}, 5, None], "y": [1, 2, 3]}))
    assert list(frame.columns) == ["a", "a.b", "y"]
    assert frame["a"].tolist()[1] == 5 and frame["a.b"].tolist()[0] == 1


def test_a_separator_at_the_end_of_every_row_does_not_shift_the_columns(tmp_path):
    """A separator at the end of every row made pandas shift the columns (a=2, b=3, y=NaN)."""
    from treino.data.tables import read_table

    path = tmp_path / "trailing.csv"
    path.write_text("a,b,y\n" + "".join(f"{i},{i * 2},{i % 3},\n" for i in range(10)))
    frame = read_table(path)
    assert list(frame.columns) == ["a", "b", "y"]
    assert frame["a"].tolist() == list(range(10))
    assert frame["y"].tolist() == [i % 3 for i in range(10)]


def test_an_unquoted_separator_in_every_row_is_refused_not_shifted(tmp_path):
    """'1,000' unquoted in every row was read as rooms=1, price=0 (the 1 went to the index)."""
    import pytest

    from treino.data.tables import read_table
    from treino.errors import DataError

    path = tmp_path / "shift.csv"
    path.write_text("rooms,price\n" + "".join(f"{i},{i},{i * 7 % 1000:03d}\n" for i in range(1, 10)))
    with pytest.raises(DataError) as info:
        read_table(path)
    assert str(info.value) == (
        f"{path}: every data row has one field more than the header (2 names); quote values that "
        f'hold the separator (e.g. "1,000") or give the extra column a name'
    )
