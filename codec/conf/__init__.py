"""The Hydra configuration tree of ``codec-train`` / ``train.py`` (YAML files only)."""
