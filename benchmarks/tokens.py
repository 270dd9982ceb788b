"""An admin service token for the benchmark's API queries, created in a database before a gateway starts on it."""

import uuid
from pathlib import Path

from gateway.auth.accounts import create_token
from gateway.composition.stores import Stores
from gateway.settings import GatewaySettings


async def admin_headers(database_url: str | None, schema: str | None, data_dir: str) -> dict[str, str]:
    """Migrate the database (as the gateway would) and return `Authorization` headers with a new admin token."""
    settings = GatewaySettings(database_url=database_url, database_schema=schema, data_dir=Path(data_dir))
    store = await Stores.open(settings)
    try:
        secret = await create_token(store.db, name=f"bench-{uuid.uuid4().hex[:6]}", role="admin")
    finally:
        await store.close()
    return {"Authorization": f"Bearer {secret}"}
