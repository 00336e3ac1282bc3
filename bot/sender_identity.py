"""Phone numbers kept out of the tracker store and the logs (shared by the texting channels and
the action server, so it lives outside bot/channels, the Rasa server's channel package).

- The conversation id is a keyed hash (HMAC-SHA256) of channel + number: stable for a patient, so
  the conversation and an opt-out carry over, but useless to whoever reads the database without
  the secret (a plain hash of a phone number is reversed by trying every number).
- The number itself travels to the action server sealed (Fernet: AES + HMAC) in the message
  metadata, so the booking form can offer "the number you're texting from" although the tracker
  store only ever holds the ciphertext.
Both keys derive from SENDER_ID_SECRET; changing it starts every texting conversation afresh.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
from typing import Optional

from cryptography.fernet import Fernet, InvalidToken

SECRET_ENV = "SENDER_ID_SECRET"
SEALED_PHONE_KEY = "sealed_sender_phone"
PHONE_HINT_KEY = "sender_phone_last_digits"


class SenderIdentity:
    def __init__(self, secret: str) -> None:
        if len(secret) < 16:
            raise ValueError(f"{SECRET_ENV} must be at least 16 characters")
        self._hash_key = hmac.new(secret.encode(), b"conversation-id", hashlib.sha256).digest()
        seal_key = hmac.new(secret.encode(), b"phone-seal", hashlib.sha256).digest()
        self._fernet = Fernet(base64.urlsafe_b64encode(seal_key))

    @classmethod
    def from_env(cls) -> Optional["SenderIdentity"]:
        secret = os.environ.get(SECRET_ENV, "")
        return cls(secret) if secret else None

    def conversation_id(self, channel: str, phone: str) -> str:
        digest = hmac.new(self._hash_key, f"{channel}:{phone}".encode(), hashlib.sha256).hexdigest()
        return f"{channel}-{digest[:32]}"

    def seal(self, phone: str) -> str:
        return self._fernet.encrypt(phone.encode()).decode()

    def unseal(self, token: str) -> Optional[str]:
        try:
            return self._fernet.decrypt(token.encode()).decode()
        except (InvalidToken, ValueError):
            return None
