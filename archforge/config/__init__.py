"""Configuration: the typed schema, its validator, and Hydra composition."""
