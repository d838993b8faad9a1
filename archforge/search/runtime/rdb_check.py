"""Which databases a study may live in: an empty one, or one that is already an Optuna
storage - never another application's.

Optuna's `RDBStorage` creates its tables (and stamps `alembic_version`) in whatever database
its URL names, before anything can ask which study is there. So before a URL reaches it,
`check_database` lists the tables already there, without writing: a SQLite file is opened
read-only (SQLite's `mode=ro` URI, which SQLAlchemy's pysqlite dialect passes through with
`uri=true`), a server database is only inspected.

- no table at all: a new database, in which `archforge search` lets Optuna create its schema
  (`archforge report` refuses it: there is no study to read);
- only Optuna's own tables, with Optuna's `version_info` wherever `alembic_version` holds a
  revision (Optuna writes `version_info` before it stamps): an Optuna storage;
- anything else (a table of another application, or another application's
  `alembic_version`): one `ConfigError` naming the URL and those tables; the database is left
  byte-for-byte as it was.

`read_only_url` is the URL a reader (`archforge report`) opens a SQLite study with, so that
not even Optuna's start-up can write to it.
"""

from __future__ import annotations

import urllib.parse
from pathlib import Path

import sqlalchemy
from sqlalchemy import exc as sa_exc
from sqlalchemy.engine import URL, make_url

from archforge.errors import ConfigError

# The tables of Optuna's RDB schema (optuna/storages/_rdb/models.py, plus alembic's own);
# tests/search/test_rdb_check.py compares this with the installed Optuna.
OPTUNA_TABLES = frozenset({
    "studies", "study_directions", "study_user_attributes", "study_system_attributes",
    "trials", "trial_user_attributes", "trial_system_attributes", "trial_params",
    "trial_values", "trial_intermediate_values", "trial_heartbeats", "version_info",
    "alembic_version",
})
KEY = "search.storage"


def _is_sqlite(url: URL) -> bool:
    return url.get_backend_name() == "sqlite"


def sqlite_file(url: URL) -> Path | None:
    """The file a SQLite URL names, or None for an in-memory database."""
    database = url.database or ""
    if url.query.get("uri") == "true":  # already a SQLite URI: file:PATH?...
        database = urllib.parse.unquote(urllib.parse.urlparse(database).path)
    if database in ("", ":memory:"):
        return None
    return Path(database).expanduser()


def read_only_url(url: str) -> str:
    """`url` opened read-only where the database can say so (SQLite); other URLs as given."""
    parsed = make_url(url)
    path = sqlite_file(parsed) if _is_sqlite(parsed) else None
    if path is None:
        return url
    query = {k: v for k, v in parsed.query.items() if k not in ("mode", "uri")}
    query.update(mode="ro", uri="true")
    database = f"file:{urllib.parse.quote(str(path.resolve()))}"
    return parsed.set(database=database, query=query).render_as_string(hide_password=False)


def check_database(url: str, read_only: bool = False) -> None:
    """Refuse (ConfigError, nothing written) a database archforge must not create tables in;
    `read_only`: also one that holds no Optuna storage yet."""
    parsed = make_url(url)
    probe = url
    if _is_sqlite(parsed):
        path = sqlite_file(parsed)
        if path is None:
            return  # in memory: empty by definition
        if not path.exists():
            if read_only:
                raise ConfigError(KEY, f"no database at {path}; run archforge search first (or "
                                  "name the study's search.storage)")
            return  # a new database file
        if not path.is_file():
            raise ConfigError(KEY, f"{path} is not a file; name a SQLite database file")
        probe = read_only_url(url)
    tables, stamped, versioned = _inspect(probe, url)
    foreign = sorted(tables - OPTUNA_TABLES)
    if foreign:
        shown = ", ".join(foreign[:6]) + (f" and {len(foreign) - 6} more" if len(foreign) > 6
                                          else "")
        raise ConfigError(KEY, f"{url} is another application's database (tables {shown}); "
                          "archforge creates Optuna's tables only in an empty database or one "
                          "that is already an Optuna storage, and left this one untouched; name "
                          "a database of the study's own (e.g. sqlite:///study.db)")
    if stamped and not versioned:
        raise ConfigError(KEY, f"{url} holds another application's alembic_version (no Optuna "
                          "version_info); archforge left it untouched; name a database of the "
                          "study's own (e.g. sqlite:///study.db)")
    if read_only and not (versioned and "studies" in tables):
        raise ConfigError(KEY, f"{url} holds no Optuna study; run archforge search first (or "
                          "name the study's search.storage)")


def _inspect(probe: str, url: str) -> tuple[set[str], bool, bool]:
    """(table names, alembic_version holds a revision, version_info holds a row)."""
    engine = sqlalchemy.create_engine(probe)
    try:
        with engine.connect() as conn:
            tables = set(sqlalchemy.inspect(conn).get_table_names())
            stamped = "alembic_version" in tables and _has_row(conn, "alembic_version")
            versioned = "version_info" in tables and _has_row(conn, "version_info")
    except sa_exc.DatabaseError as exc:
        if _is_sqlite(make_url(url)) and "not a database" in str(exc):
            raise ConfigError(KEY, f"{url}: the file is not a SQLite database; archforge left "
                              "it untouched") from exc
        raise
    finally:
        engine.dispose()
    return tables, stamped, versioned


def _has_row(conn: sqlalchemy.Connection, table: str) -> bool:
    return conn.execute(sqlalchemy.text(f"SELECT 1 FROM {table} LIMIT 1")).first() is not None
