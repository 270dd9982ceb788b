"""A whole hospital of simulators: scenarios on simulated time, faults, remote control, the deterministic morning."""
