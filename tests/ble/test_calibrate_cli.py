"""``deskpulse edge calibrate``: fitted [ble] lines from a file of reference samples."""

from __future__ import annotations

import math
import tomllib
from pathlib import Path

import pytest

from edge.ble.rssi import Calibration, rssi_at
from edge.cli import main

SAMPLES = Path(__file__).parent.parent / "data" / "calibration_samples.csv"


def test_the_sample_file_gives_lines_to_paste_into_ble(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["calibrate", "--samples", str(SAMPLES)]) == 0
    out = capsys.readouterr().out
    # by hand: per-distance means -59.5, -65.5, -72.5, -78.5 dBm at 1, 2, 4, 8 m give
    # n = sum(dx dy) / sum(dx^2) = 2.1265 and rssi(1 m) = -69 + 2.1265 * -4.515 = -59.40
    assert out == ("# fitted from 8 sample(s) at 4 distance(s)\n"
                   "path_loss_exponent = 2.13\n"
                   "rssi_at_1m = -59.4\n")
    assert tomllib.loads(out) == {"path_loss_exponent": 2.13, "rssi_at_1m": -59.4}


def test_a_noiseless_model_is_recovered(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    truth = Calibration(exponent=2.7, offset=-62.0)
    path = tmp_path / "s.csv"
    path.write_text("".join(f"{d},{rssi_at(d, 0.0, truth):.3f}\n" for d in (0.5, 1, 3, 6, 10)))
    assert main(["calibrate", "--samples", str(path)]) == 0
    fitted = tomllib.loads(capsys.readouterr().out)
    assert math.isclose(fitted["path_loss_exponent"], 2.7, abs_tol=0.01)
    assert math.isclose(fitted["rssi_at_1m"], -62.0, abs_tol=0.05)


@pytest.mark.parametrize(("text", "message"), [
    ("1,-59\n2,oops\n", "{path} line 2: expected 'distance_m,rssi', e.g. '2.0,-65'"),
    ("1,-59\n-2,-65\n", "{path} line 2: the distance must be positive and both numbers finite"),
    ("1,-59\n1,-60\n", "calibration needs samples at two or more different distances"),
    ("1,-59\n2,-40\n", "calibration fit is implausible"),
])
def test_unusable_samples_exit_2_with_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], text: str, message: str,
) -> None:
    path = tmp_path / "s.csv"
    path.write_text(text)
    assert main(["calibrate", "--samples", str(path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: " + message.format(path=path)) and err.count("\n") == 1


def test_live_needs_a_reference_uuid(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["calibrate", "--live"]) == 2
    assert capsys.readouterr().err == "error: --live needs --uuid of the reference beacon\n"
