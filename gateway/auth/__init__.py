"""Accounts, roles, sessions, service tokens, ward scoping and the access audit trail of the gateway's API."""
