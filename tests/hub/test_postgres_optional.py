"""The hub runs on SQLite without the [postgres] extra, and a postgresql:// URL without it
is one clear ConfigError naming the extra (not an ImportError at start-up).

In a fresh interpreter with psycopg made unimportable (None in sys.modules): this test
process has psycopg loaded already.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]

_CODE = """
import sys
sys.modules["psycopg"] = None
sys.modules["psycopg_pool"] = None
import hub.server, hub.auth.accounts, hub.checkin.service, hub.api.routes.health
from hub.errors import ConfigError
from hub.db.engines import open_store
store = open_store(sys.argv[1])
store.close()
try:
    open_store("postgresql://deskpulse@127.0.0.1/deskpulse")
except ConfigError as exc:
    print(exc)
"""


def test_sqlite_works_and_a_postgres_url_names_the_extra(tmp_path: Path) -> None:
    proc = subprocess.run([sys.executable, "-c", _CODE, str(tmp_path / "hub.db")], cwd=REPO,
                          capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.startswith("database_url is a PostgreSQL URL but psycopg cannot be loaded")
    assert proc.stdout.rstrip().endswith("pip install 'deskpulse[postgres]'")
