"""HL7 v2 from the laboratory system over MLLP: orders, container states and results become specimen events.

`listener` serves MLLP (TCP, optional TLS); `inbound` handles one message (dedupe by control id, store, dead
letter) and answers with an ACK from `acks`; `messages` says what a message means under the field choices of
`mapping`; `redaction` keeps only the fields the mapping reads, so no patient data is stored or logged.
"""
