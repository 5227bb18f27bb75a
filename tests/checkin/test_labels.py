"""Desk codes and QR labels: random, revocable, and readable by a real QR decoder."""

from __future__ import annotations

import io
import re
import xml.etree.ElementTree as ET  # noqa: S405 (our own SVG output)
from pathlib import Path

import numpy as np
import pytest
import zxingcpp
from fastapi.testclient import TestClient
from PIL import Image

from hub.auth import accounts
from hub.checkin import labels
from hub.cli import main
from hub.config import HubSettings
from hub.db.sqlite.store import SqliteStore
from hub.errors import NotFound
from tests.support.web import PASSWORD, csrf_from, sign_in

BASE = "https://hub.example.com"


def decode(image: Image.Image) -> str:
    """What a phone's scanner reads: zxing-cpp (the decoder phones' apps build on).

    OpenCV's classic detector misses about 1 in 300 valid random codes, which made a
    test over a fresh random code fail now and then; the label itself was fine.
    """
    found = zxingcpp.read_barcodes(np.array(image.convert("L")))
    return found[0].text if found else ""


def test_codes_are_random_revocable_and_never_the_desk_id(store: SqliteStore) -> None:
    first = labels.issue_code(store, "hq-d1")
    assert labels.CODE_PATTERN.fullmatch(first) and "hq-d1" not in first
    assert labels.resolve_code(store, first) == "hq-d1"
    second = labels.issue_code(store, "hq-d1")  # reprint: the old label stops working
    assert second != first
    assert labels.resolve_code(store, first) is None
    assert labels.resolve_code(store, second) == "hq-d1"
    assert labels.revoke_codes(store, "hq-d1") == 1
    assert labels.resolve_code(store, second) is None
    assert labels.resolve_code(store, "../etc/passwd") is None
    assert len({labels.new_code() for _ in range(1000)}) == 1000
    with pytest.raises(NotFound):
        labels.issue_code(store, "no-such-desk")


def test_site_labels_issue_missing_codes_once(store: SqliteStore) -> None:
    sheet = labels.site_labels(store, "hq", BASE)
    assert [label.desk for label in sheet] == ["hq-d1", "hq-d2", "hq-d3", "hq-d4", "hq-d5"]
    assert sheet[0].floor == "First floor" and sheet[0].name == "Desk 1"
    assert sheet == labels.site_labels(store, "hq", BASE)  # stable until reissued
    code = sheet[0].url.rsplit("/", 1)[1]
    assert sheet[0].url == f"{BASE}/d/{code}"
    with pytest.raises(NotFound):
        labels.site_labels(store, "nowhere", BASE)


def test_png_and_svg_encode_the_url() -> None:
    url = f"{BASE}/d/AbCdEfGhIjKl"
    assert decode(Image.open(io.BytesIO(labels.qr_png(url)))) == url
    svg = ET.fromstring(labels.qr_svg(url))  # noqa: S314
    assert svg.tag.endswith("svg")


def test_a4_sheet_has_twelve_labels_a_page_and_they_scan() -> None:
    sheet = [labels.Label(f"d{i}", f"Desk {i}", "First floor", f"{BASE}/d/code{i:08d}")
             for i in range(14)]
    pdf = labels.sheet_pdf(sheet)
    assert pdf.startswith(b"%PDF")
    assert b"/Count 2" in pdf  # 14 labels: two pages
    boxes = re.findall(rb"/MediaBox \[ 0 0 ([0-9.]+) ([0-9.]+) \]", pdf)
    assert len(boxes) == 2
    for width, height in boxes:  # A4 = 595.3 x 841.9 pt
        assert float(width) == pytest.approx(595.3, abs=1)
        assert float(height) == pytest.approx(841.9, abs=1)
    tile = labels._label_tile(sheet[3], 360, 400)
    assert decode(tile) == sheet[3].url


def test_cli_writes_the_sheet_and_per_desk_images(
    settings: HubSettings, store: SqliteStore, tmp_path: Path, capsys: pytest.CaptureFixture[str],
) -> None:
    config = tmp_path / "hub.toml"
    config.write_text(f'data_dir = "{settings.data_dir}"\nsecret_key = "{settings.secret_key}"\n'
                      f'public_url = "{BASE}"\n' + (f'database_url = "{settings.database_url}"\n'
                                                     if settings.database_url else ""))
    out, per_desk = tmp_path / "labels.pdf", tmp_path / "desks"
    code = main(["hub", "labels", "--site", "hq", "--out", str(out), "--config", str(config),
                 "--per-desk", str(per_desk)])
    assert code == 0
    assert out.read_bytes().startswith(b"%PDF")
    assert f"{BASE}/d/" in capsys.readouterr().out
    url = f"{BASE}/d/{labels.active_code(store, 'hq-d2')}"
    assert decode(Image.open(per_desk / "hq-d2.png")) == url
    assert (per_desk / "hq-d2.svg").read_bytes().startswith(b"<?xml")
    assert main(["hub", "labels", "--site", "nowhere", "--out", str(out),
                 "--config", str(config)]) == 2


def test_label_routes_need_a_manager(
    client: TestClient, store: SqliteStore, manager_auth: dict[str, str], ann: int,
) -> None:
    assert client.get("/api/v1/sites/hq/labels.pdf").status_code == 401
    pdf = client.get("/api/v1/sites/hq/labels.pdf", headers=manager_auth)
    assert pdf.status_code == 200 and pdf.headers["content-type"] == "application/pdf"
    png = client.get("/api/v1/desks/hq-d1/label.png", headers=manager_auth)
    code = labels.active_code(store, "hq-d1")
    assert decode(Image.open(io.BytesIO(png.content))) == f"http://testserver/d/{code}"
    svg = client.get("/api/v1/desks/hq-d1/label.svg", headers=manager_auth)
    assert svg.headers["content-type"] == "image/svg+xml"
    assert client.get("/api/v1/desks/nope/label.png", headers=manager_auth).status_code == 404
    assert client.post("/api/v1/desks/hq-d1/label/reissue",
                       headers=manager_auth).status_code == 200
    assert labels.active_code(store, "hq-d1") != code


def test_admin_labels_page_lists_and_reissues(
    client: TestClient, store: SqliteStore, ann: int,
) -> None:
    assert client.get("/admin/labels").status_code == 303  # signed out
    sign_in(client, "ann")
    assert client.get("/admin/labels").status_code == 403  # employees do not print labels
    client.cookies.clear()
    accounts.create_user(store.db, "mia", PASSWORD, "manager")
    sign_in(client, "mia")
    page = client.get("/admin/labels?site=hq")
    assert page.status_code == 200
    code = labels.active_code(store, "hq-d1")
    assert f"http://testserver/d/{code}" in page.text
    assert 'href="/api/v1/sites/hq/labels.pdf"' in page.text
    assert client.get("/api/v1/sites/hq/labels.pdf").status_code == 200  # session works too
    assert client.post("/admin/labels/hq-d1/reissue",
                       data={"csrf_token": "forged"}).status_code == 403
    done = client.post("/admin/labels/hq-d1/reissue", data={"csrf_token": csrf_from(page.text)})
    assert done.status_code == 303 and done.headers["location"] == "/admin/labels?site=hq"
    assert labels.active_code(store, "hq-d1") != code
    assert labels.resolve_code(store, code) is None


def test_a_loopback_base_url_is_warned_about_before_printing(
    settings: HubSettings, store: SqliteStore, tmp_path: Path, capsys: pytest.CaptureFixture[str],
) -> None:
    """Labels that point to 127.0.0.1 open the phone itself: the CLI and the page say so."""
    config = tmp_path / "hub.toml"
    config.write_text(f'data_dir = "{settings.data_dir}"\nsecret_key = "{settings.secret_key}"\n'
                      + (f'database_url = "{settings.database_url}"\n'
                         if settings.database_url else ""))
    assert main(["hub", "labels", "--site", "hq", "--out", str(tmp_path / "l.pdf"),
                 "--config", str(config)]) == 0
    err = capsys.readouterr().err
    assert "warning: the labels point to http://127.0.0.1:8000, a loopback address: phones " \
           "cannot reach it. Set public_url in hub.toml" in err
    assert labels.loopback_warning(BASE) is None
    assert labels.loopback_warning("http://[::1]:8000") is not None
    sheet = labels.site_labels(store, "hq", BASE)
    assert {label.site for label in sheet} == {"Head office"}
