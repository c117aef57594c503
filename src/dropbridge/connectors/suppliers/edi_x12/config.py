"""`supplier add --kind edi_x12`: the trading-partner profile (ANSI X12 004010, suppliers.md section 5).

The URL says where documents are exchanged: `sftp://host:port` (credentials `username` and `password` or
`private_key`; config `host_key`, the server's public key in OpenSSH format, always verified) or
`file:///path` (a VAN mailbox mounted on disk; no credentials). Folders are paths on that server or
under that directory."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, field_validator, model_validator

from dropbridge.connectors.config import SupplierConfig

DOCUMENTS = ("846", "850", "855", "856", "810", "997")
_ID = r"^[A-Za-z0-9 ._/-]+$"


class EdiConfig(SupplierConfig):
    # ISA05/ISA06 (ours) and ISA07/ISA08 (the partner's): qualifier ZZ (mutually defined), 01 (DUNS), 12 (phone)...
    sender_qualifier: Annotated[str, Field(min_length=2, max_length=2, pattern=r"^[A-Z0-9]{2}$")] = "ZZ"
    sender_id: Annotated[str, Field(min_length=1, max_length=15, pattern=_ID)] = Field(
        ..., description="our interchange id (ISA06), as agreed with the partner")
    receiver_qualifier: Annotated[str, Field(min_length=2, max_length=2, pattern=r"^[A-Z0-9]{2}$")] = "ZZ"
    receiver_id: Annotated[str, Field(min_length=1, max_length=15, pattern=_ID)] = Field(
        ..., description="the partner's interchange id (ISA08)")
    gs_sender_id: Annotated[str, Field(min_length=2, max_length=15, pattern=_ID)] | None = Field(
        None, description="GS02 when it differs from sender_id")
    gs_receiver_id: Annotated[str, Field(min_length=2, max_length=15, pattern=_ID)] | None = Field(
        None, description="GS03 when it differs from receiver_id")
    element_separator: Annotated[str, Field(min_length=1, max_length=1)] = "*"
    component_separator: Annotated[str, Field(min_length=1, max_length=1)] = ">"
    segment_terminator: Annotated[str, Field(min_length=1, max_length=1)] = "~"
    line_ending: Literal["", "\n", "\r\n"] = "\n"
    version: Literal["004010", "004010VICS"] = Field("004010", description="GS08")
    usage: Literal["production", "test"] = Field("production", description="ISA15 P or T")
    documents: list[Literal["846", "850", "855", "856", "810", "997"]] = Field(
        default_factory=lambda: list(DOCUMENTS), description="the transaction sets this partner exchanges")
    receipt_hours: Annotated[float, Field(gt=0)] | None = Field(
        24, description="a 997 for each 850 is due within this many hours, or an alert is raised")
    ack_hours: Annotated[float, Field(gt=0)] | None = Field(
        None, description="an 855 for each 850 is due within this many hours, or an alert is raised")
    ack_requested: bool = Field(False, description="ISA14: ask for a TA1 interchange acknowledgement")
    control_number_start: Annotated[int, Field(ge=1, le=999_999_999)] = Field(
        1, description="first control number to use (continue a previous system's sequence)")
    outbox: str = Field("/outbound", description="folder we put 850s and 997s in")
    outbox_archive: str | None = Field(
        None, description="folder the partner moves collected files to (lets dropbridge tell whether an "
                          "interrupted 850 landed); absent: it deletes them")
    inbox: str = Field("/inbound", description="folder the partner puts 855, 856, 810, 846 and 997 files in")
    inbox_archive: str = Field("/inbound/archive", description="where collected files are moved once stored")
    host_key: str | None = Field(None, description="SFTP: the server's public host key (OpenSSH format)")
    full_inventory: bool = Field(False, description="846 files are full snapshots: SKUs absent go to zero")

    @field_validator("outbox", "outbox_archive", "inbox", "inbox_archive")
    @classmethod
    def _folder(cls, value: str | None) -> str | None:
        if value is not None and (not value.startswith("/") or ".." in value.split("/")):
            raise ValueError("must be an absolute folder path without '..'")
        return value

    @model_validator(mode="after")
    def _distinct(self) -> EdiConfig:
        seps = [self.element_separator, self.component_separator, self.segment_terminator]
        if len(set(seps)) != 3 or any(c.isalnum() or c == " " for c in seps):
            raise ValueError("element_separator, component_separator and segment_terminator must be distinct "
                             "characters other than letters, digits and space")
        if "850" in self.documents and "997" not in self.documents:
            raise ValueError("documents: a partner that takes 850s exchanges 997s")
        return self
