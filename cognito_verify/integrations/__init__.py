"""Framework adapters. Each submodule imports its framework; this package does not."""
