"""The only part of ``actors`` the edge imports: message classes and ``enqueue``.

Importing this package loads no Dramatiq, pika, reportlab, Pillow or aiosmtplib (checked by
``tests/actors/test_contracts.py``). The relay lives in ``actors.contracts.relay``.
"""

from actors.contracts.messages import Message, PurgeExpiredTokens, SendEmail, all_messages
from actors.contracts.outbox import Requester, enqueue

__all__ = [
    "Message",
    "PurgeExpiredTokens",
    "Requester",
    "SendEmail",
    "all_messages",
    "enqueue",
]
