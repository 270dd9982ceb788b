"""The secure MQTT profile: a development CA, per-component credentials, Mosquitto password, ACL and conf files.

- `ca`: the development CA and its certificates.
- `accounts`: who connects and which topics each may write and read (from the contract and the profiles).
- `mosquitto_files`: the password file, the ACL file and `mosquitto.conf`.
- `bundle`: all of it written to one folder; `cli`: `wardlink security init`.
"""
