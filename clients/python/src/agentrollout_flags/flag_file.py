"""The flags of a ConfigMap mounted as a volume, re-read when the kubelet updates it.

The kubelet updates a ConfigMap volume (not a ``subPath`` mount, which never changes) by
writing a new directory and swapping the ``..data`` symlink, so the file's path stays and
what it resolves to changes. FlagFile checks the resolved file's identity (device, inode,
size, modification time) at most once per ``check_interval`` seconds, on a lookup -- no
thread, no timer -- and re-reads the document when it changed. Safe to share between
threads (a Django or gunicorn worker's threads).
"""
import os
import threading
import time
from typing import Callable, Dict, List, Optional, Sequence, Tuple

from .evaluate import FlagState, bucket, is_on
from .parse import parse_flags

# A ConfigMap holds at most 1 MiB; anything far larger is not a flags document.
MAX_DOCUMENT_BYTES = 4 * 1024 * 1024


class FlagFile:
    def __init__(
        self,
        path: str,
        check_interval: float = 1.0,
        on_error: Optional[Callable[[Sequence[str]], None]] = None,
    ) -> None:
        """``path`` is the document, e.g. ``/etc/feature-flags/flags.json``.

        ``on_error`` receives the problems of a read that had new ones (unreadable file,
        bad JSON, malformed entries).
        """
        self.path = path
        self._check_interval = check_interval
        self._on_error = on_error
        self._lock = threading.Lock()
        self._flags: Dict[str, FlagState] = {}
        self._errors: List[str] = []
        self._identity: Optional[Tuple[int, int, int, int]] = None
        self._checked_at = float("-inf")
        self.refresh()

    def is_on(self, flag_key: str, tenant_id: str) -> bool:
        """Whether the flag is on for the tenant; a flag missing from the document is off."""
        return is_on(self.flag(flag_key), tenant_id)

    @staticmethod
    def bucket(flag_key: str, tenant_id: str) -> int:
        """The tenant's bucket for the flag, 0..99 (independent of the document)."""
        return bucket(flag_key, tenant_id)

    def flag(self, flag_key: str) -> Optional[FlagState]:
        """The flag's current entry, or None when the document has none."""
        if time.monotonic() - self._checked_at >= self._check_interval:
            self.refresh()
        return self._flags.get(flag_key)

    @property
    def errors(self) -> List[str]:
        """The problems of the last read; empty when it was clean."""
        return list(self._errors)

    def refresh(self) -> None:
        """Re-reads the document now if it changed.

        An unreadable file or a document that is not a JSON object keeps the flags last
        read (a missing file on the first read: all off); a malformed entry is left out
        and the others are used.
        """
        with self._lock:
            self._checked_at = time.monotonic()
            try:
                stat = os.stat(self.path)
                identity = (stat.st_dev, stat.st_ino, stat.st_size, stat.st_mtime_ns)
                if identity == self._identity:
                    return
                if stat.st_size > MAX_DOCUMENT_BYTES:
                    raise OSError(f"larger than {MAX_DOCUMENT_BYTES} bytes ({stat.st_size}); not read")
                with open(self.path, "rb") as file:
                    document = file.read(MAX_DOCUMENT_BYTES + 1)
            except OSError as error:
                self._report([f"{self.path}: {error}"])
                return
            parsed = parse_flags(document)
            if parsed.readable:
                self._flags = parsed.flags
            self._identity = identity
            self._report([f"{self.path}: {error}" for error in parsed.errors])

    def _report(self, errors: List[str]) -> None:
        # Tells on_error about new problems only, not the same ones at every check.
        new = errors != self._errors
        self._errors = errors
        if errors and new and self._on_error is not None:
            self._on_error(list(errors))
