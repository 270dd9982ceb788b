"""The specimen sorter simulator: the tubes it is fed, the Modbus device, and seeded tube streams."""
