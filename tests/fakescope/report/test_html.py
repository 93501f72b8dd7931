from fakescope.report import html as H
from fakescope.report.plots import timeline


def test_text_is_escaped_and_markup_is_not():
    evil = '<img src=x onerror="alert(1)">'
    out = H.tag("p", evil, H.tag("b", "ok"), class_='a"b')
    assert "<img" not in out and "&lt;img" in out and "<b>ok</b>" in out
    assert 'class="a&quot;b"' in out


def test_table_formats_and_escapes():
    t = H.table([{"name": "<x>", "auc": 0.91234, "n": 3}, {"name": "y", "auc": None, "extra": True}])
    assert "&lt;x&gt;" in t and "<x>" not in t
    assert "0.912" in t and '<td class="num">3</td>' in t
    assert t.count("<th>") == 4  # union of keys: name, auc, n, extra
    assert "<td>-</td>" in t  # missing / None shown as '-'


def test_page_is_self_contained():
    png = timeline({"a": [(0, 0.1), (1, 0.9)]})
    doc = H.page("Report <1>", H.section("Figures", H.figures(H.image(png, "scores", "caption"))))
    assert doc.startswith("<!DOCTYPE html>") and "<title>Report &lt;1&gt;</title>" in doc
    assert "data:image/png;base64," in doc
    assert "http://" not in doc and "https://" not in doc and "<script" not in doc
