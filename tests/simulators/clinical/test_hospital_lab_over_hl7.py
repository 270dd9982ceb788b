"""The demo hospital's lab system speaks HL7 over MLLP when given an `mllp://` address, MQTT otherwise."""

from simulators.clinical.hl7_system import Hl7LabSystem
from simulators.clinical.system import ClinicalSystem
from simulators.hospital.hospital import Hospital
from simulators.hospital.scenario import load_scenario
from tests.mllp_peer import MllpPeer

NO_BROKER = "mqtt://127.0.0.1:1"
"""The hospital's devices are never started here: only its lab system talks."""


async def test_a_hospital_collection_reaches_the_lab_receiver_as_hl7() -> None:
    async with MllpPeer() as peer:
        hospital = Hospital(load_scenario("demo"), NO_BROKER, lis_url=peer.url)
        assert isinstance(hospital.lis, Hl7LabSystem)
        await hospital.lis.start()
        try:
            specimen = hospital.specimens.new_specimen("icu")
            hospital.specimens.collect(specimen)
            await hospital.lis.acknowledged(timeout_s=10)
        finally:
            await hospital.lis.stop()
    [message] = peer.received
    assert message["SPM.2"] == specimen.barcode
    assert message["PV1.3.1.1"] == "icu"
    assert message["TQ1.9"] == {"stat": "S", "urgent": "A", "routine": "R"}[specimen.priority]


def test_without_an_address_the_lab_system_stays_on_mqtt() -> None:
    assert isinstance(Hospital(load_scenario("demo"), NO_BROKER).lis, ClinicalSystem)
