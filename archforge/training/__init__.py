"""archforge.training."""
