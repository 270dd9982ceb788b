"""FHIR R4 resources from what wardlink knows: pure builders (records + reference data -> JSON), search, paging.

The builders never touch the database or HTTP; `gateway.api.fhir` reads the records and serves the results.
Every resource built here validates against `fhir.resources.R4B` (the resources used are unchanged from R4.0.1).
"""
