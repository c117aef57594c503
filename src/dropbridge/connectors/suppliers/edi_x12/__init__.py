"""EDI X12 004010 trading partners (`edi_x12`): purchase orders out as 850s, acknowledgements (855),
ship notices (856), invoices (810), inventory (846) and functional acknowledgements (997) in, as files on
the partner's SFTP server or a VAN mailbox mounted on disk. Emulated by `dropbridge sandbox run edi-partner`.
"""

from dropbridge.connectors.registry import ConnectorSpec
from dropbridge.services.ports import Capability

from .config import EdiConfig
from .connector import EdiX12Supplier, from_config

SPEC = ConnectorSpec(
    name="edi_x12", role="supplier", config_model=EdiConfig, factory=from_config,
    capabilities=frozenset({Capability.CATALOG, Capability.STOCK, Capability.ORDERS, Capability.TRACKING,
                            Capability.INVOICES, Capability.WEBHOOKS}),
    offers_by_feed=True, mailbox=True, wants_services=True,
    optional_credentials=("username", "password", "private_key", "passphrase"),
    summary="an X12 004010 trading partner over SFTP or a VAN folder: 850 out; 855, 856, 810, 846, 997 in",
    emulator="edi-partner", implementation=EdiX12Supplier,
)

__all__ = ["SPEC", "EdiConfig", "EdiX12Supplier", "from_config"]
