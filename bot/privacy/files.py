"""Files holding patient data (SQLite databases, the booking spool) readable by their owner only."""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Union

logger = logging.getLogger(__name__)

PRIVATE_FILE_MODE = 0o600
PRIVATE_DIR_MODE = 0o700
# SQLite's companions of a database file; SQLite gives new ones the database file's mode, but
# ones left over from before this fix keep theirs.
SQLITE_COMPANIONS = ("-journal", "-wal", "-shm")


def ensure_private_dir(path: Union[str, Path]) -> Path:
    """Creates the folder (and parents) if missing; the folder itself is made owner-only."""
    path = Path(path)
    path.mkdir(parents=True, exist_ok=True, mode=PRIVATE_DIR_MODE)
    _chmod(path, PRIVATE_DIR_MODE)
    return path


def ensure_private_file(path: Union[str, Path]) -> Path:
    """Makes `path` exist with mode 0600 before anything (SQLAlchemy, Rasa) opens it.

    Created with os.open(..., 0o600) so it is never readable by others, not even for a moment
    (a later chmod would leave a window and depends on the umask); an existing file is chmod-ed.
    An empty file is a valid empty SQLite database. The parent folder is created if missing but
    its mode is left alone (var/ holds other things too).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor = os.open(path, os.O_RDONLY | os.O_CREAT, PRIVATE_FILE_MODE)
    try:
        os.fchmod(descriptor, PRIVATE_FILE_MODE)
    except PermissionError:  # someone else's file: say so, but do not stop the server
        logger.warning("Cannot make %s private (not its owner)", path)
    finally:
        os.close(descriptor)
    for suffix in SQLITE_COMPANIONS:
        companion = path.with_name(path.name + suffix)
        if companion.exists():
            _chmod(companion, PRIVATE_FILE_MODE)
    return path


def _chmod(path: Path, mode: int) -> None:
    try:
        os.chmod(path, mode)
    except FileNotFoundError:
        pass  # removed meanwhile (a journal at commit)
    except PermissionError:
        logger.warning("Cannot make %s private (not its owner)", path)
