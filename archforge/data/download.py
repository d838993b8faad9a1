"""Checksummed downloads that never leave a partial file under the final name."""

from __future__ import annotations

import hashlib
import logging
import os
import tempfile
from pathlib import Path
from urllib.request import urlopen

from archforge.errors import ConfigError

log = logging.getLogger(__name__)

_BLOCK = 1 << 20


def download_file(url: str, dest: Path, md5: str, key: str, how_to: str = "") -> Path:
    """Fetch `url` to `dest`, verifying its MD5; `key` is the config path errors name.

    The bytes go to a hidden temporary file beside `dest` and are renamed into place only
    once the checksum matches, so an interrupted or corrupted download never looks like a
    valid archive. Network failures and checksum mismatches are `ConfigError`s.
    """
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(dir=dest.parent, prefix=f".{dest.name}.", suffix=".part")
    tmp = Path(tmp_name)
    digest = hashlib.md5(usedforsecurity=False)  # an integrity check, not a security one
    try:
        log.info("downloading %s to %s", url, dest)
        with os.fdopen(fd, "wb") as out, urlopen(url, timeout=60) as response:
            while chunk := response.read(_BLOCK):
                digest.update(chunk)
                out.write(chunk)
        got = digest.hexdigest()
        if got != md5:
            raise ConfigError(
                key,
                f"the download from {url} failed its checksum (md5 {got}, expected {md5}); "
                f"nothing was saved. Retry, or fetch the file by hand. {how_to}".rstrip(),
            )
        os.replace(tmp, dest)
    except OSError as exc:  # URLError, timeouts and disk errors are all OSErrors
        raise ConfigError(key, f"could not download {url}: {exc}. {how_to}".rstrip()) from exc
    finally:
        tmp.unlink(missing_ok=True)
    return dest
