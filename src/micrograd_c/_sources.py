"""The hash of the C core's sources: build_ext.py embeds it, _core.py checks it at import.

Standard library only: build_ext.py loads this file by path, before anything is built.
"""

import hashlib
from pathlib import Path


def source_hash(root: Path) -> str:
    """The sha256 of root/csrc/*.[ch] and root/build_ext.py, to detect a stale build."""
    files = sorted((root / "csrc").glob("*.[ch]")) + [root / "build_ext.py"]
    return hashlib.sha256(b"".join(f.read_bytes() for f in files)).hexdigest()
