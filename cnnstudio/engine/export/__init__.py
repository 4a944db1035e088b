"""Verified export: ``exporter`` runs a job and moves the file into place only after the
check in ``verify`` passed; ``formats`` writes and reloads each format."""
