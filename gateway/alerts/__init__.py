"""Alerts with a lifecycle: conditions (pure), the engine that raises and clears them, the alerts table."""
