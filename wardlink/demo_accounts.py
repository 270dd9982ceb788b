"""The demo's accounts: one user per role and a lab user limited to ward 3a, with fresh random passwords each run.

A demo restarted on the same data directory resets the same users' passwords (and roles and wards), so the
printed credentials are always the ones that work. Also a service token for the console's own requests and the
printed curl examples (admin: the examples span every family).
"""

from dataclasses import dataclass

from gateway.auth.accounts import HasEngine, UserExistsError, create_token, create_user, set_password, update_user
from wardlink.users_cli import generated_password

DEMO_USERS: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    ("admin", "admin", ()),
    ("engineer", "engineer", ()),
    ("pharmacy", "pharmacy", ()),
    ("lab", "lab", ()),
    ("lab-3a", "lab", ("ward-3a",)),
)


@dataclass(frozen=True, slots=True)
class DemoAccount:
    name: str
    role: str
    wards: tuple[str, ...]
    password: str


async def demo_accounts(store: HasEngine) -> list[DemoAccount]:
    """Create (or reset) the demo users; their passwords, to print."""
    accounts = []
    for name, role, wards in DEMO_USERS:
        password = generated_password()
        try:
            await create_user(store, name=name, password=password, role=role, wards=wards)
        except UserExistsError:
            await update_user(store, name, role=role, wards=wards, disabled=False)
            await set_password(store, name, password)
        accounts.append(DemoAccount(name, role, wards, password))
    return accounts


async def demo_token(store: HasEngine) -> str:
    """A short-lived admin token for the demo console's requests and its curl examples."""
    from datetime import timedelta

    return await create_token(
        store, name="demo-console", role="admin", expires_in=timedelta(days=1), created_by="wardlink demo"
    )


def describe(accounts: list[DemoAccount], dashboard: str) -> str:
    """The accounts block the demo prints."""
    width = max(len(a.name) for a in accounts)
    lines = [f"Dashboard: {dashboard}  — log in with one of these (passwords are new every run):"]
    for account in accounts:
        scope = f"  (only {', '.join(account.wards)})" if account.wards else ""
        lines.append(f"  {account.name:<{width}}  {account.password}   {account.role}{scope}")
    return "\n".join(lines)
