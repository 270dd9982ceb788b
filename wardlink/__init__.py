"""wardlink: the command line and the one-process demo that wires broker, simulators, edge and gateway."""

from importlib.metadata import version

__version__ = version("wardlink")
