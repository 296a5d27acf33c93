"""tools/ablation.py on a tiny budget: rows trained with one plan, measured, tabled."""

import json

from test_tools import tool


def test_ablation_trains_measures_and_tables_each_row(tmp_path, capsys):
    argv = ["--rows", "ede,srresnet-fp", "--steps", "2", "--batch-size", "2", "--patch", "16",
            "--sets", "Set5", "--runs-dir", str(tmp_path / "runs"), "--latency-size", "24x32",
            "--latency-runs", "1", "--json", str(tmp_path / "a.json"), "--markdown", str(tmp_path / "a.md"),
            "--no-progress"]
    assert tool("ablation")(argv) == 0
    doc = json.loads((tmp_path / "a.json").read_text())
    rows = {r["key"]: r for r in doc["rows"]}
    assert list(rows) == ["ede", "srresnet-fp"]
    assert rows["ede"]["network"]["unit_options"]["estimator"] == "ede"
    for r in rows.values():
        assert 0 < r["sets"]["Set5"]["psnr"] < 60 and r["latency_ms"] > 0 and r["params_k"] > 0
    assert rows["ede"]["params_k"] < rows["srresnet-fp"]["params_k"]  # 1-bit body weights
    assert doc["best_binary"] == "ede"
    assert doc["gap_to_float_db"]["Set5"] == rows[doc["best_binary"]]["sets"]["Set5"]["psnr"] - \
        rows["srresnet-fp"]["sets"]["Set5"]["psnr"]
    table = (tmp_path / "a.md").read_text()
    assert "BBCU-L, EDE" in table and "2 steps from scratch" in table and "gap to the float SRResNet" in table
    assert all((tmp_path / "runs" / k / "latest.json").is_file() for k in rows)
    capsys.readouterr()

    assert tool("ablation")(["--rows", "approx,nope"]) == 2
    assert "unknown rows nope" in capsys.readouterr().err
