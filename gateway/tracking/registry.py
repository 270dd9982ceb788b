"""Every projector of the tracked families (and the custody log), in the order a projection pass runs them."""

from gateway.custody.log import project_custody_log
from gateway.projection.transaction import Projector
from gateway.tracking.cabinets.store import project_cabinets
from gateway.tracking.carriers.store import project_carriers
from gateway.tracking.deliveries.store import project_deliveries
from gateway.tracking.devices.store import project_devices
from gateway.tracking.specimens.rollup_writes import roll_up_network
from gateway.tracking.specimens.store import project_specimens


def projectors() -> list[Projector]:
    """Every projector, in the order a pass runs them."""
    return [
        project_carriers,  # before specimens: a carrier's arrival moves the specimens it carries (carrier_loads)
        project_specimens,
        project_devices,
        project_deliveries,
        project_cabinets,
        project_custody_log,
        roll_up_network,  # last: the rows every site shares are locked from here to the commit only
    ]
