"""Specimen barcodes as the laboratory information system labels tubes: no patient data, a check digit."""


def check_digit(digits: str) -> int:
    """Luhn (mod 10) check digit of a digit string."""
    total = 0
    for i, char in enumerate(reversed(digits)):
        n = int(char)
        if i % 2 == 0:
            n = n * 2 - 9 if n > 4 else n * 2
        total += n
    return (10 - total % 10) % 10


def lab_barcode(number: int) -> str:
    """`S` + 8-digit specimen number + check digit, as a lab system labels tubes (no patient data)."""
    if not 0 <= number <= 99_999_999:
        raise ValueError(f"specimen number {number} does not fit 8 digits")
    digits = f"{number:08d}"
    return f"S{digits}{check_digit(digits)}"


def is_lab_barcode(value: str) -> bool:
    return len(value) == 10 and value[0] == "S" and value[1:].isdigit() and check_digit(value[1:9]) == int(value[9])
