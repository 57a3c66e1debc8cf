"""FAISS-backed unsafe-prompt detector: build, calibrate, classify, add exemplars, save/load."""
