"""Figures only: learning curves, attention heatmaps, embedding maps (matplotlib, imported lazily)."""
