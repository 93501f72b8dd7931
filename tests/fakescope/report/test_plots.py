import base64

import numpy as np
import pytest

from fakescope.report import plots as P

PNG = b"\x89PNG\r\n\x1a\n"


def _series():
    rng = np.random.default_rng(0)
    y = np.r_[np.zeros(30, int), np.ones(30, int)]
    s = np.clip(rng.normal(0.35 + 0.3 * y, 0.2), 0, 1)
    return {"a": (y, s), "b": (y, 1 - s), "one-class": (np.ones(5, int), np.full(5, 0.7))}


def test_curve_plots_return_png_bytes_or_write_files(tmp_path):
    series = _series()
    outputs = [
        P.roc_plot(series),
        P.pr_plot(series),
        P.reliability_plot(series),
        P.score_histograms(series, thresholds={"a": 0.5}),
    ]
    for data in outputs:
        assert isinstance(data, bytes) and data.startswith(PNG) and len(data) > 2000
    path = P.roc_plot(series, tmp_path / "sub" / "roc.png")
    assert path == tmp_path / "sub" / "roc.png" and path.read_bytes().startswith(PNG)
    assert not list((tmp_path / "sub").glob(".*tmp"))  # atomic write leaves no temp file


def test_robustness_and_report_plots():
    outputs = [
        P.robustness_plot("jpeg_quality", {"a": [(30, 0.7), (90, 0.9), (60, None)]}, baselines={"a": 0.95}),
        P.timeline({"detector": [(i, 0.5 + 0.3 * np.sin(i / 4)) for i in range(40)]}, threshold=0.5, fps=25),
        P.ear_curve([(i, 0.3 - 0.2 * (i % 20 < 2)) for i in range(60)], [{"start_frame": 0, "end_frame": 1}, (20, 21)],
                    threshold=0.2),
    ]
    for data in outputs:
        assert isinstance(data, bytes) and data.startswith(PNG) and len(data) > 2000


def test_png_data_uri(tmp_path):
    data = P.timeline({}, title="empty")
    uri = P.png_data_uri(data)
    assert uri.startswith("data:image/png;base64,")
    assert base64.b64decode(uri.split(",", 1)[1]) == data
    f = tmp_path / "x.png"
    f.write_bytes(data)
    assert P.png_data_uri(f) == uri
    with pytest.raises(ValueError, match="PNG"):
        P.png_data_uri(b"GIF89a...")
