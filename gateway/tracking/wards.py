"""Ward scoping in queries: a caller limited to some wards sees only what belongs to one of them."""


def visible(ward: str | None, wards: tuple[str, ...] | None) -> bool:
    """Whether a caller limited to `wards` (None: every ward) may see what belongs to `ward` (None: no ward)."""
    return wards is None or (ward is not None and ward in wards)
