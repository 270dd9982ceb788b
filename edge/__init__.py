"""The edge agent: polls devices through their profiles, keeps canonical events on disk until the gateway acks."""
