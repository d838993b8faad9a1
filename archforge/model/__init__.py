"""The model core: registries, plugin discovery, option schema, layers, the network builder,
the meta-device check, MACs and summaries, and weight loading.

Everything here needs only torch: no Hydra, OmegaConf, Lightning or Optuna is imported by
this package or by a plugin module (tests/test_imports.py checks it in a fresh interpreter).
"""
