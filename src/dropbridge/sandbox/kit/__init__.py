"""The emulator kit: lifecycle (`Emulator`, `start_server`), `/_control` endpoints, injectable faults and
webhook delivery with retries, shared by every emulated platform."""

from .emulator import Emulator
from .faults import COMMON_MODES, Fault, FaultQueue, hold
from .server import RunningServer, start_server
from .webhooks import WebhookSender

__all__ = ["COMMON_MODES", "Emulator", "Fault", "FaultQueue", "RunningServer", "WebhookSender", "hold",
           "start_server"]
