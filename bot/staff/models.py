"""The live model, the one before it, and candidates; going live without a restart.

models/facet-assistant.tar.gz  live (what `make run` serves)
models/previous.tar.gz         the live model before the last promotion: one-step rollback
models/candidates/<id>.tar.gz  trained by `staff retrain`, with <id>.json beside it (the gate's
                               report); only a candidate that passed can be promoted
The folder is the one MODEL_PATH is in.

Files are swapped with os.replace (atomic), then the running Rasa server is told to load the live
file through its authenticated HTTP API (PUT /model, a JWT signed with RASA_API_SECRET, minted for
that one call and valid for API_TOKEN_LIFETIME, so a token seen in transit soon opens nothing). Rasa
builds the new agent beside the old one and switches when it is ready, so no message is dropped.
With replicas (MODEL_SERVER_URL set), the folder is the one the model server serves: the swap
itself is the publication, and every replica pulls the new file within MODEL_PULL_SECONDS
(`announce_live_model`).
"""

from __future__ import annotations

import json
import os
import shutil
import urllib.error
import urllib.request
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Optional

import jwt

from bot import PROJECT_ROOT

if TYPE_CHECKING:
    from bot.settings import RuntimeSettings

MODELS_DIR = PROJECT_ROOT / "models"
LOAD_TIMEOUT_SECONDS = 180
# Long enough for the request to arrive, short enough that a copied token is soon useless. The server
# checks `exp` when the request arrives, not when the model finishes loading.
API_TOKEN_LIFETIME = timedelta(minutes=5)
API_TOKEN_ALGORITHM = "HS256"  # the jwt_method the Rasa server is configured with (bot/server.py)


class PromotionRefused(RuntimeError):
    """Why a model cannot go live, in plain words."""


@dataclass(frozen=True)
class ModelStore:
    models_dir: Path = MODELS_DIR
    live_name: str = "facet-assistant.tar.gz"

    @classmethod
    def for_live_model(cls, live: Path) -> "ModelStore":
        return cls(live.parent, live.name)

    @property
    def live(self) -> Path:
        return self.models_dir / self.live_name

    @property
    def reports_dir(self) -> Path:
        return self.candidates_dir

    @property
    def previous(self) -> Path:
        return self.models_dir / "previous.tar.gz"

    @property
    def candidates_dir(self) -> Path:
        return self.models_dir / "candidates"

    def candidate(self, candidate_id: str) -> Path:
        return self.candidates_dir / f"{candidate_id}.tar.gz"

    def report_path(self, candidate_id: str) -> Path:
        return self.reports_dir / f"{candidate_id}.json"

    def report(self, candidate_id: str) -> Optional[dict]:
        path = self.report_path(candidate_id)
        return json.loads(path.read_text(encoding="utf-8")) if path.exists() else None

    def latest_candidate(self) -> Optional[str]:
        reports = sorted(self.reports_dir.glob("candidate-*.json"), key=lambda path: path.stat().st_mtime)
        return reports[-1].stem if reports else None

    def promote(self, candidate_id: str) -> None:
        """The candidate becomes live; the live model becomes the previous one."""
        report = self.report(candidate_id)
        if not self.candidate(candidate_id).exists() or report is None:
            raise PromotionRefused(f"There is no checked candidate called {candidate_id!r}.")
        if not report.get("passed"):
            raise PromotionRefused(
                f"{candidate_id} did not pass the checks: " + " ".join(report.get("reasons", []))
            )
        _atomic_copy(self.live, self.previous)
        _atomic_copy(self.candidate(candidate_id), self.live)

    def rollback(self) -> None:
        """Live and previous change places (rolling back twice restores the promotion)."""
        if not self.previous.exists():
            raise PromotionRefused("There is no previous model to go back to.")
        swap = self.models_dir / "rollback.tmp.tar.gz"
        shutil.copyfile(self.live, swap)
        _atomic_copy(self.previous, self.live)
        os.replace(swap, self.previous)


def _atomic_copy(source: Path, target: Path) -> None:
    partial = target.with_name(target.name + ".partial")
    shutil.copyfile(source, partial)
    os.replace(partial, target)


def api_token(secret: str, issued_at: Optional[datetime] = None) -> str:
    """An admin JWT for Rasa's HTTP API that expires API_TOKEN_LIFETIME after `issued_at` (now)."""
    issued_at = issued_at or datetime.now(timezone.utc)
    claims = {
        "user": {"username": "staff-tools", "role": "admin"},
        "iat": issued_at,
        "exp": issued_at + API_TOKEN_LIFETIME,
    }
    return jwt.encode(claims, secret, algorithm=API_TOKEN_ALGORITHM)


def load_on_server(server_url: str, model_path: Path, secret: str) -> None:
    """Asks the running Rasa server to load a model file now (PUT /model)."""
    request = urllib.request.Request(
        f"{server_url.rstrip('/')}/model",
        data=json.dumps({"model_file": str(model_path)}).encode(),
        method="PUT",
        headers={"Content-Type": "application/json", "Authorization": f"Bearer {api_token(secret)}"},
    )
    try:
        with urllib.request.urlopen(request, timeout=LOAD_TIMEOUT_SECONDS):
            return
    except urllib.error.HTTPError as error:
        raise PromotionRefused(f"The server refused to load the model (HTTP {error.code}).") from error
    except OSError as error:
        raise PromotionRefused(
            f"The bot at {server_url} did not answer ({error}); the new model goes live at its next start."
        ) from error


def announce_live_model(settings: "RuntimeSettings", store: ModelStore) -> str:
    """Makes the running bot answer with the live file; returns what happened, in plain words.

    One server is told over its API; replicas behind a model server need nothing (they pull)."""
    if settings.model_server_url:
        return (
            f"Published: every replica pulls it from the model server within {settings.model_pull_seconds} s."
        )
    server = f"http://127.0.0.1:{settings.bot_port}"
    load_on_server(server, store.live, settings.api_secret)
    return f"The bot at {server} now answers with it."
