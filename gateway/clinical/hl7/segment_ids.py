"""The segment ids HL7 v2.5.1 defines, and sites' own `Z` segments: what a line must begin with to be a segment.

A line break the sender did not escape inside a field (an address, a name, a note) starts a new "line" whose first
field is patient data; a three-letter word such as a surname (`LEE`) looks like a segment id. Only ids HL7 defines
(and `Zxx`) are taken as segments, so such a line is redacted whole and never read.
"""

import re

_V251_IDS = """
ABS ACC ADD ADJ AFF AIG AIL AIP AIS AL1 APR ARQ AUT BHS BLC BLG BPO BPX BTS BTX CDM CER CM0 CM1 CM2 CNS CON CSP
CSR CSS CTD CTI DB1 DG1 DRG DSC DSP ECD ECR EDU EQL EQP EQU ERQ ERR EVN FAC FHS FT1 FTS GOL GP1 GP2 GT1 IAM IIM
ILT IN1 IN2 IN3 INV IPC ISD LAN LCC LCH LDP LOC LRL MFA MFE MFI MRG MSA MSH NCK NDS NK1 NPU NSC NST NTE OBR OBX
ODS ODT OM1 OM2 OM3 OM4 OM5 OM6 OM7 ORC ORG OVR PCR PD1 PDA PDC PEO PES PID PR1 PRA PRB PRC PRD PSH PTH PV1 PV2
QAK QID QPD QRD QRF QRI RCP RDF RDT RF1 RGS RMI ROL RQ1 RQD RXA RXC RXD RXE RXG RXO RXR SAC SCH SFT SID SPM SPR
STF TCC TCD TQ1 TQ2 TXA UB1 UB2 URD URS VAR VTQ
"""
STANDARD: frozenset[str] = frozenset(_V251_IDS.split())
_SITE_DEFINED = re.compile(r"Z[A-Z0-9]{2}")


def is_segment_id(name: str) -> bool:
    return name in STANDARD or _SITE_DEFINED.fullmatch(name) is not None
