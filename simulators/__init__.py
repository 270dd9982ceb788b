"""Device simulators that are real network peers, built from the same profiles as the edge.

One package per family: `modbus` (the Modbus TCP device base), `sorter`, `tubes` (the pneumatic tube system),
`robots` (VDA 5050), `cabinets` (MV-40 ward cabinets), `clinical` (the laboratory and pharmacy systems, specimen
barcodes and journeys) and `hospital` (every family together playing a scenario's day, its faults, the
simulation control, and the deterministic lab morning). Scenario files live in `days/`.
"""
