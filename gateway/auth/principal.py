"""Who is calling: a logged-in user or a service token, with a role and the wards it may see."""

from dataclasses import dataclass
from typing import Literal, get_args

Role = Literal["lab", "pharmacy", "engineer", "admin", "integration"]
ROLES: tuple[str, ...] = get_args(Role)
PrincipalKind = Literal["user", "token"]


class UnknownRoleError(ValueError):
    """A role name that is not one of `ROLES`."""


def check_role(role: str) -> Role:
    """`role` as a `Role`, or an error naming the roles there are."""
    if role not in ROLES:
        raise UnknownRoleError(f"unknown role {role!r}: use one of {', '.join(ROLES)}")
    return role  # type: ignore[return-value]  # checked against ROLES above


def check_wards(wards: "tuple[str, ...] | list[str]") -> tuple[str, ...]:
    """Ward ids, stripped, without duplicates, in their first order; an empty id is an error."""
    cleaned: list[str] = []
    for ward in wards:
        ward = ward.strip()
        if not ward or len(ward) > 64:
            raise ValueError(f"ward id {ward!r} must be 1 to 64 characters")
        if ward not in cleaned:
            cleaned.append(ward)
    return tuple(cleaned)


@dataclass(frozen=True, slots=True)
class Principal:
    """The caller of one request; `wards` empty means every ward."""

    name: str
    kind: PrincipalKind
    role: Role
    wards: tuple[str, ...] = ()

    @property
    def scoped(self) -> bool:
        return bool(self.wards)

    def can_see_ward(self, ward: str | None) -> bool:
        """Unscoped callers see everything; scoped ones only their wards (nothing without a ward)."""
        if not self.wards:
            return True
        return ward is not None and ward in self.wards
