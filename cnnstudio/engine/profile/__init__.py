"""Measuring where a model's time goes (latency of the whole module, for now)."""
