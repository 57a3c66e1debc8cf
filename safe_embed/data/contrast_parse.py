"""Turn a chat model's reply into N safe edits: validate, and repair the usual ways JSON replies go wrong."""

from __future__ import annotations

import ast
import json
import re


class ContrastParseError(ValueError):
    """The model's reply could not be turned into the requested number of edits."""


_KEY = re.compile(r"\s*prompt\s*[_ ]?\s*#?\s*(\d+)\s*", re.IGNORECASE)


def _repair(s: str) -> str:
    s = s.replace("\u201c", '"').replace("\u201d", '"')
    return re.sub(r",\s*([}\]])", r"\1", s)  # trailing commas


def _candidates(content: str) -> list[str]:
    """JSON texts to try: the raw reply, then progressively repaired versions."""
    s = content.strip()
    fence = re.search(r"```(?:json|JSON)?\s*(.*?)(?:```|$)", s, re.DOTALL)
    if fence:
        s = fence.group(1).strip()
    start = min((i for i in (s.find("{"), s.find("[")) if i >= 0), default=-1)
    if start < 0:
        return []
    body = s[start:]
    end = max(body.rfind("}"), body.rfind("]"))
    trimmed = body[:end + 1] if end >= 0 else body
    out = [trimmed, _repair(trimmed)]
    depth = body.count("{") - body.count("}")
    if depth > 0:  # a reply cut off before its closing braces
        out.append(_repair(body).rstrip().rstrip(",") + "}" * depth)
    if not body.startswith("{") or depth < 0:  # "prompt_#n": ... pairs without the outer object
        out.append("{" + _repair(trimmed).strip().strip(",") + "}")
    return out


_PAIR = re.compile(r'"?prompt_#(\d+)"?\s*:\s*\{?\s*"?modified_prompt"?\s*:\s*\[?\s*"((?:[^"\\]|\\.)*)"')


def _parsed(content: str) -> list:
    """Every object the reply can be read as (raw, repaired, salvaged pair by pair), best first."""
    found = []
    for cand in _candidates(content):
        for loader in (json.loads, ast.literal_eval):  # literal_eval reads Python-style dicts; it runs no code
            try:
                found.append(loader(cand))
                break
            except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
                continue
    pairs = _PAIR.findall(content)
    if pairs:
        try:
            found.append({f"prompt_#{k}": json.loads(f'"{v}"') for k, v in pairs})
        except ValueError:
            pass
    return found


def _as_text(v) -> str | None:
    if isinstance(v, dict):
        v = v.get("modified_prompt", next(iter(v.values()), None) if len(v) == 1 else None)
    if isinstance(v, list) and len(v) == 1:
        v = v[0]
    if not isinstance(v, str):
        return None
    v = v.strip()
    if len(v) >= 2 and v[0] == "[" and v[-1] == "]":  # the template's "[modified prompt here]" copied literally
        v = v[1:-1].strip()
    return v.strip('"').strip() or None


def _values(obj) -> list:
    if isinstance(obj, list):
        return obj
    if isinstance(obj, dict):
        numbered = {int(m.group(1)): v for k, v in obj.items() if (m := _KEY.fullmatch(str(k)))}
        if numbered:
            return [numbered[k] for k in sorted(numbered)]
        if len(obj) == 1:
            return _values(next(iter(obj.values())))
    raise ContrastParseError(f"expected keys prompt_#1..prompt_#n, got {type(obj).__name__}"
                             f"{' with keys ' + str(list(obj)[:6]) if isinstance(obj, dict) else ''}")


def _check(obj, n_edits: int, original: str | None) -> list[str]:
    texts = [_as_text(v) for v in _values(obj)]
    if any(t is None for t in texts[:n_edits]):
        raise ContrastParseError(f"edit #{[t is None for t in texts].index(True) + 1} is empty or not text")
    if len(texts) < n_edits:
        raise ContrastParseError(f"expected {n_edits} edits, got {len(texts)}")
    texts = texts[:n_edits]
    if original is not None:
        same = [i + 1 for i, t in enumerate(texts) if t.casefold() == original.strip().casefold()]
        if same:
            raise ContrastParseError(f"edit(s) #{same} repeat the unsafe original unchanged")
    return texts  # type: ignore[return-value]


def parse_edits(content: str, n_edits: int = 5, original: str | None = None) -> list[str]:
    """Validate and repair a model reply into ``n_edits`` safe edits, or raise :class:`ContrastParseError`.

    Repairs: code fences, prose around the JSON, trailing commas, curly quotes, Python-style quoting, missing
    closing braces, a missing outer object, ``[...]`` left around an edit, lists instead of strings.

    >>> parse_edits('```json\\n{"prompt_#1": {"modified_prompt": "Tell me a clean joke."}}\\n```', n_edits=1)
    ['Tell me a clean joke.']
    """
    if not isinstance(content, str) or not content.strip():
        raise ContrastParseError("empty reply")
    objs = _parsed(content)
    if not objs:
        raise ContrastParseError("the reply holds no parseable JSON object")
    errors = []
    for obj in objs:
        try:
            return _check(obj, n_edits, original)
        except ContrastParseError as e:
            errors.append(str(e))
    raise ContrastParseError(errors[0])
