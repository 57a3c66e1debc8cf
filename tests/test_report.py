"""Reports: one model writes the metrics.json schema; several models compare side by side."""

from __future__ import annotations

import json

from safe_embed.evaluate import SafeEmbedSuite
from safe_embed.evaluate.report import render_markdown, write_report

from safe_embed.data import load_contrast, load_do_not_answer, load_xstest_aug
from safe_embed.encoders.fake import HashEncoder


def _suite(data_dir):
    return SafeEmbedSuite(load_xstest_aug(data_dir)[::5], load_contrast(data_dir)[::10],
                          load_do_not_answer(data_dir)[::4], k=5, avg_cosine=0.05)


def test_multi_model_report(tmp_path, data_dir):
    suite = _suite(data_dir)
    a = suite.run(HashEncoder(dim=32, seed=0, name="hash-a"))
    b = suite.run(HashEncoder(dim=32, seed=1, name="hash-b"))
    written = write_report([a, b], tmp_path, failures={"broken": "cannot load"}, tsne=False)
    m = json.loads((tmp_path / "metrics.json").read_text())
    assert [x["model"] for x in m["models"]] == ["hash-a", "hash-b"] and m["failed"] == {"broken": "cannot load"}
    assert json.loads((tmp_path / "models" / "hash-b" / "metrics.json").read_text()) == b.to_json()
    md = (tmp_path / "report.md").read_text()
    assert "| type / category | hash-a | hash-b |" in md and "`broken`: cannot load" in md
    assert written["sc_heatmap"].read_bytes()[:4] == b"\x89PNG"
    assert a.to_json()["avg_cosine_source"] == "fixed"


def test_single_model_markdown_has_every_type(data_dir):
    r = _suite(data_dir).run(HashEncoder(dim=32))
    md = render_markdown([r])
    for t in r.safety_challenging:
        assert f"| {t} |" in md
    assert f"**{r.safety_challenging_mean:.3f}**" in md
