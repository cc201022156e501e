"""The demo: a synthetic community (with its own ground truth) and ``python -m bot demo``."""
