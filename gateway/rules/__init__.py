"""Tracking rules: turnaround targets, expected leg times and alert thresholds, as versioned YAML configuration."""

from gateway.rules.model import TrackingRules, TurnaroundRules, TurnaroundTarget, default_rules, load_rules

__all__ = ["TrackingRules", "TurnaroundRules", "TurnaroundTarget", "default_rules", "load_rules"]
