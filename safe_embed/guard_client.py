"""The client of a running ``safe-embed serve``, and the error it raises when the service fails or is out of reach."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Self

from safe_embed.errors import SafeEmbedError
from safe_embed.guard_prompts import UnreadablePromptError


class GuardServiceError(SafeEmbedError):
    """The guardrail service answered with an error, or could not be reached."""

    def __init__(self, message: str, status: int | None = None, code: str | None = None) -> None:
        super().__init__(message)
        self.status, self.code = status, code


class GuardClient:
    """A small client for ``safe-embed serve``; its :meth:`classify` matches the detector's, so :func:`guard`
    and :func:`check` accept it.

    >>> from safe_embed.detector.demo import demo_detector
    >>> from safe_embed.serve import BackgroundServer, create_app
    >>> with BackgroundServer(create_app(demo_detector(), warmup=False)) as url, GuardClient(url) as g:
    ...     g.check("How do I kill a python process?").label
    'safe'
    """

    def __init__(self, url: str = "http://127.0.0.1:8000", token: str | None = None, timeout: float = 10.0,
                 neighbors: bool = True, transport=None) -> None:
        import httpx

        headers = {"Authorization": f"Bearer {token}"} if token else {}
        self.url = url.rstrip("/")
        self.neighbors = neighbors
        self._http = httpx.Client(base_url=self.url, headers=headers, timeout=timeout, transport=transport)

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        self._http.close()

    def _call(self, method: str, path: str, body: dict | None = None) -> dict:
        import httpx

        try:
            r = self._http.request(method, path, json=body)
        except httpx.HTTPError as e:
            raise GuardServiceError(f"cannot reach the guardrail service at {self.url}{path}: {e}. Fix: start it "
                                    "with `safe-embed serve DETECTOR_DIR` or check the URL.") from None
        if r.status_code >= 400:
            try:
                err = r.json()
                code, msg = err.get("error"), err.get("message", r.text)
            except ValueError:
                code, msg = None, r.text[:500]
            raise GuardServiceError(f"{method} {path} -> {r.status_code}: {msg}", r.status_code, code)
        return r.json()

    def classify(self, texts: Sequence[str]) -> list:
        """One :class:`~safe_embed.detector.Detection` per text, in order."""
        from safe_embed.detector.results import Detection, Neighbor

        if isinstance(texts, str):
            raise UnreadablePromptError("classify() takes a list of texts, got a single string. Fix: wrap it in a "
                                        "list.")
        body = self._call("POST", "/v1/classify", {"texts": list(texts), "neighbors": self.neighbors})
        fields = ("id", "text", "label", "category", "similarity")
        return [Detection(d["label"], float(d["score"]), d.get("category"),
                          tuple(Neighbor(**{k: n.get(k) for k in fields}, category_inferred=bool(
                              n.get("category_inferred"))) for n in d.get("neighbors", [])),
                          tuple(d.get("flags", [])), None if d.get("span") is None else tuple(d["span"]),
                          {str(c): float(v) for c, v in (d.get("category_scores") or {}).items()})
                for d in body["results"]]

    def check(self, text: str):
        """The :class:`~safe_embed.detector.Detection` of one prompt."""
        return self.classify([text])[0]

    def add_exemplars(self, texts: Sequence[str], labels: Sequence[str],
                      categories: Sequence[str | None] | None = None, ids: Sequence[str] | None = None) -> list[str]:
        """Add exemplars (needs the service's token); returns their ids."""
        cats = list(categories) if categories is not None else [None] * len(texts)
        rows = [{"text": t, "label": lab, "category": c} for t, lab, c in zip(texts, labels, cats, strict=True)]
        if ids is not None:
            for r, i in zip(rows, ids, strict=True):
                r["id"] = i
        return self._call("POST", "/v1/exemplars", {"exemplars": rows})["ids"]

    def info(self) -> dict:
        return self._call("GET", "/v1/info")

    def health(self) -> bool:
        try:
            return self._call("GET", "/healthz").get("status") == "ok"
        except GuardServiceError:
            return False
