"""GPU-aware executor: each candidate runs in the local sandbox with GPUs leased to it."""
