"""The rules in force in this process: one holder, handed to every part that judges by them."""

from gateway.rules.model import TrackingRules, default_rules


class RulesInForce:
    """The current `TrackingRules`; replaced whole when a new version is imported or another gateway imported one."""

    def __init__(self, rules: TrackingRules | None = None) -> None:
        self.current: TrackingRules = rules or default_rules()
