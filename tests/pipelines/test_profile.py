import pstats

from pipelines import profile


def test_profile_runs_the_step_prints_where_its_time_went_and_saves_the_profile(tmp_path, capsys):
    out = tmp_path / "runs" / "sample.prof"
    assert profile.main(["sample", "cifar10", f"--data={tmp_path / 'data'}", f"--out={out}"]) == 0
    assert (tmp_path / "data" / "cifar10" / "raw" / "trainLabels.csv").is_file()  # the step itself ran
    text = capsys.readouterr().out
    assert "sample cifar10 profiled:" in text and "of which imports" in text
    assert "pipelines/__main__.py" in text and "/.venv" not in text  # the project's own functions
    assert any(name == "run_step" for _, _, name in pstats.Stats(str(out)).stats)
