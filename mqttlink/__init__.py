"""MQTT plumbing that is not wire contract: broker URLs and capped, jittered backoff; imports nothing else of ours."""
