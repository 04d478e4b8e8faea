"""Leaf helpers shared by every stage: each module here imports nothing else from kpirules."""
