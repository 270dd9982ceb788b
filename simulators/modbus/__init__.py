"""The Modbus TCP device simulator base: a profile's register image served live, and its mailbox queue."""
