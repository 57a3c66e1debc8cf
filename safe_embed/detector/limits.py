"""The detector's size limits: the one home of each, read by the detector, the service and the commands."""

from __future__ import annotations

MAX_CHARS = 100_000  # a text is read (in windows) up to this many characters; the rest is flagged ``unchecked_tail``
MAX_EXEMPLAR_CHARS = 20_000  # an exemplar longer than this is refused (neighbour texts come back in responses)
MAX_FIELD_CHARS = 200  # ids, categories and sources
