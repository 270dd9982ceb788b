"""The pneumatic tube system simulator: the network of stations and zones, the controller, seeded traffic."""
