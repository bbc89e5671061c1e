"""Presets and pipelines this distribution ships (its ``qasr.configs`` entry point)."""
