"""Windows over a long text: every token read, none cut mid-word where a word's edge is within reach."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from safe_embed.detector.coverage import WORD_SNAP, window_spans


def _spans(words: list[int]) -> list[tuple[int, int]]:
    """Token spans of a text whose words are ``words[i]`` tokens of two characters each, a space between words."""
    out, pos = [], 0
    for n in words:
        for _ in range(n):
            out.append((pos, pos + 2))
            pos += 2
        pos += 1
    return out


@given(st.lists(st.integers(1, 5), min_size=1, max_size=80), st.integers(4, 40))
def test_windows_cover_every_token_and_open_and_close_between_words(words, window):
    spans = _spans(words)
    ws = window_spans(spans, window)
    starts = {a for a, _ in spans}
    ends = {b for _, b in spans}
    assert all(a in starts and b in ends for a, b in ws)  # on token edges
    for a, b in spans:  # every token lies whole inside some window
        assert any(wa <= a and b <= wb for wa, wb in ws)
    for wa, wb in ws:  # no window holds more than ``window`` tokens
        assert sum(wa <= a and b <= wb for a, b in spans) <= window
    word_starts = {a for a, _ in spans if a not in ends}  # no token ends where it starts: a space before it
    word_ends = {b for _, b in spans if b not in starts}
    if min(WORD_SNAP, window // 4) >= 5:  # words of at most 5 tokens: an edge is always within reach
        assert all(wa in word_starts for wa, _ in ws) and all(wb in word_ends for _, wb in ws)


def test_a_window_edge_moves_no_further_than_word_snap():
    spans = _spans([3 * WORD_SNAP])  # one word far longer than the snap reach
    ws = window_spans(spans, 2 * WORD_SNAP)
    assert ws[0][0] == 0 and ws[-1][1] == spans[-1][1]
    assert all(b - a >= 2 for a, b in ws)
