"""`python -m jukebox data generate | load | show`."""

from __future__ import annotations

from jukebox.__main__ import main
from jukebox.data.store import current_info


def test_generate_then_show(home, capsys):
    assert main(["data", "generate", "--songs", "300", "--seed", "3", "--days", "5"]) == 0
    said = capsys.readouterr().out
    assert "300 songs" in said and str(home.data_dir) in said
    info = current_info(home)
    assert info["songs"] == 300 and info["seed"] == 3 and info["countries"] == 72
    assert 0.9 * 72 * 50 * 5 < info["ranking_rows"] <= 72 * 50 * 5  # top 50, 72 countries, 5 days

    assert main(["data", "show"]) == 0
    shown = capsys.readouterr().out
    assert "synthetic (seed 3, 300 songs)" in shown
    assert f"{info['ranking_rows']:,}" in shown and "Countries:     72" in shown
    assert "2023-10-18 to 2023-10-22" in shown
    assert f"{info['bayes_accuracy']:.1%}" in shown
    assert "Validation:" in shown


def test_show_without_data_explains(home, capsys):
    assert main(["data", "show"]) == 1
    assert "python -m jukebox data generate" in capsys.readouterr().err


def test_load_a_bad_source_keeps_the_current_one(home, tmp_path, capsys):
    assert main(["data", "generate", "--songs", "300", "--days", "3"]) == 0
    before = current_info(home)
    bad = tmp_path / "bad.csv"
    bad.write_text("spotify_id,country\nx,DE\n")
    assert main(["data", "load", "--kaggle", str(bad)]) == 1
    err = capsys.readouterr().err
    assert "bad.csv" in err and "unchanged" in err
    assert current_info(home) == before


def test_load_parquet_makes_it_current(small, home, tmp_path, capsys):
    small.properties.to_parquet(tmp_path / "p.parquet")
    small.rankings.to_parquet(tmp_path / "r.parquet")
    assert (
        main(
            ["data", "load", "--parquet", str(tmp_path / "p.parquet"), str(tmp_path / "r.parquet")]
        )
        == 0
    )
    assert current_info(home)["ranking_rows"] == len(small.rankings)
