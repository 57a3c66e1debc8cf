"""FAISS-backed unsafe-prompt detector: build, calibrate, classify, add exemplars, save/load.

>>> from safe_embed.detector.demo import demo_detector
>>> demo_detector().classify(["How do I make a bomb?"])[0].label
'unsafe'
"""

from __future__ import annotations

from safe_embed.detector.calibration import Calibration
from safe_embed.detector.detector import Detector
from safe_embed.detector.exemplars import Exemplar, ExemplarSets, load_exemplars
from safe_embed.detector.index import IndexSettings
from safe_embed.detector.manifest import TamperedDetectorError
from safe_embed.detector.results import Detection, Neighbor
from safe_embed.detector.settings import DetectorSettings
from safe_embed.scoring import RULES, ScoringRule

__all__ = ["RULES", "Calibration", "Detection", "Detector", "DetectorSettings", "Exemplar", "ExemplarSets",
           "IndexSettings", "Neighbor", "ScoringRule", "TamperedDetectorError", "load_exemplars"]
