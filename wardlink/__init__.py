"""wardlink: the command line and the one-process demo that wires broker, simulators, edge and gateway."""

__version__ = "0.1.0"
