"""The FHIR R4 API at /fhir/r4: read and search over what wardlink tracks, as application/fhir+json."""
