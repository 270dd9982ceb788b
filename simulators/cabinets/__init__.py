"""MV-40 ward medication cabinet simulators: the cabinet, its MQTT link and message stream, stock, fridge, wards."""
