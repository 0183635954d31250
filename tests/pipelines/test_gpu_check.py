import pytest

from pipelines import gpu_check


def test_the_parts_each_competition_declares_and_their_commands():
    known = gpu_check.declared()
    assert list(known)[0] == "rossmann-throughput" and {"cifar10", "rossmann", "planet"} <= set(known)
    comp, part = known["cifar10"]
    assert gpu_check.commands(comp, part, None) == [
        ["sample", "COMP=cifar10"],  # no real data: the embedded sample, a dry run
        ["features", "COMP=cifar10"],
        ["profile", "COMP=cifar10", "STEP=train"],
        ["profile", "COMP=cifar10", "STEP=predict"],
    ]
    comp, part = known["rossmann"]
    src = gpu_check.SHARED / part.data
    assert gpu_check.commands(comp, part, src)[0] == ["download", "COMP=rossmann", f"SRC={src}", f"EXTRA={src.parent}"]
    with pytest.raises(ValueError, match="kind='chains'"):
        gpu_check.GpuPart(1, "chains", "x.zip", 10)


def test_shared_data_without_a_parts_file_is_named_before_anything_runs(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("SHARED_DATA", str(tmp_path))
    monkeypatch.setattr(gpu_check, "SHARED", tmp_path)
    with pytest.raises(SystemExit, match=r"no images/cifar10.tar.gz there"):
        gpu_check.main([str(tmp_path / "out"), "--parts", "cifar10"])  # asked for: an error
    assert not (tmp_path / "out").exists()
    assert gpu_check.main([str(tmp_path / "out"), "--budget", "1"]) == 0  # the default: left out, said
    assert "left out" in capsys.readouterr().out
    assert "packages:" in (tmp_path / "out" / "summary.txt").read_text()
