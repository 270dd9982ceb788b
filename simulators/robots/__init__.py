"""VDA 5050 delivery robot simulators: the robot's body (no network), its MQTT peer, its factsheet, a fleet."""
