from __future__ import annotations

import json

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.neural_network import MLPClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from forensics.jsonmodel import JsonClassifier


def data(seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(200, 5)) * [1, 10, 0.1, 3, 1] + [0, 5, 0, -2, 1]
    y = (x[:, 0] + 0.2 * x[:, 1] - 5 * x[:, 2] + rng.normal(0, 0.5, 200) > 1).astype(int)
    return x, y


@pytest.mark.parametrize("clf", [LogisticRegression(C=0.5), MLPClassifier((8,), max_iter=2000, random_state=0)])
def test_json_round_trip_matches_sklearn(tmp_path, clf):
    x, y = data()
    pipe = make_pipeline(StandardScaler(), clf).fit(x, y)
    names = tuple(f"f{i}" for i in range(5))
    model = JsonClassifier.from_sklearn(pipe, names, {"note": "test"})
    path = tmp_path / "m.json"
    model.save(path)
    text = path.read_text()
    assert text.startswith("{") and "pickle" not in text
    loaded = JsonClassifier.load(path, "train it")
    assert loaded.feature_names == names and loaded.meta == {"note": "test"}
    np.testing.assert_allclose(loaded.predict_proba(x), pipe.predict_proba(x)[:, 1], atol=1e-9)
    assert list(tmp_path.iterdir()) == [path]  # atomic write left no temp file


def test_bad_files_raise_clear_errors(tmp_path):
    with pytest.raises(ValueError, match="not found"):
        JsonClassifier.load(tmp_path / "missing.json", "python -m x")
    with pytest.raises(ValueError, match="format"):
        JsonClassifier.from_json({"format": "other"})
    x, y = data()
    model = JsonClassifier.from_sklearn(make_pipeline(StandardScaler(), LogisticRegression()).fit(x, y), tuple("abcde"))
    d = json.loads(json.dumps(model.to_json()))
    d["layers"][0]["weight"] = d["layers"][0]["weight"][:3]
    with pytest.raises(ValueError, match="inconsistent"):
        JsonClassifier.from_json(d)
    with pytest.raises(ValueError, match="expects 5 features"):
        model.predict_proba(np.zeros((1, 4)))
