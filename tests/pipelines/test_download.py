"""The download step: local archives and folders, and every failure leaving raw/ untouched."""

import json
import zipfile
from pathlib import Path

import pytest

from pipelines.download import DataSpec, DownloadError, download, make_sample, read_source
from pipelines.paths import Paths
from pipelines.rossmann import SPEC
from pipelines.rossmann.config import COMPETITION_FILES, EXTRA_FILES


def make_zip(src: Path, dest: Path, names=COMPETITION_FILES, nested=False) -> Path:
    with zipfile.ZipFile(dest, "w", zipfile.ZIP_DEFLATED) as z:
        for name in names:
            if nested:  # Kaggle sometimes ships train.csv.zip inside the competition zip
                inner = dest.parent / (name + ".zip")
                with zipfile.ZipFile(inner, "w") as iz:
                    iz.write(src / name, name)
                z.write(inner, inner.name)
            else:
                z.write(src / name, name)
    return dest


def extras_dir(src: Path, tmp_path: Path) -> Path:
    d = tmp_path / "extras"
    d.mkdir()
    for name in EXTRA_FILES:
        (d / name).write_bytes((src / name).read_bytes())
    return d


@pytest.fixture()
def paths(tmp_path):
    return Paths.for_comp("rossmann", tmp_path / "data", tmp_path / "subs")


@pytest.mark.parametrize("nested", [False, True])
def test_local_zip_plus_extra_folder(paths, tmp_path, rossmann_sample_dir, nested):
    z = make_zip(rossmann_sample_dir, tmp_path / "rossmann-store-sales.zip", nested=nested)
    download(SPEC, paths, src=str(z), extra=str(extras_dir(rossmann_sample_dir, tmp_path)))
    source = read_source(paths)
    assert source["kind"] == "real" and source["source"].startswith("local:")
    assert sorted(source["files"]) == sorted(COMPETITION_FILES + EXTRA_FILES)
    assert (paths.raw / "train.csv").read_bytes() == (rossmann_sample_dir / "train.csv").read_bytes()
    assert not list(paths.comp_dir.glob(".raw-staging-*"))


def test_extra_adds_every_file_where_the_competition_names_no_external_tables(
    paths, tmp_path, rossmann_sample_dir, capsys
):
    """A card names no external tables: EXTRA= brings every file its folder holds that the download lacks."""
    from dataclasses import replace

    z = make_zip(rossmann_sample_dir, tmp_path / "rossmann-store-sales.zip")
    extras = extras_dir(rossmann_sample_dir, tmp_path)
    (extras / "train.csv").write_text("not the competition's\n")  # the download's own file wins
    download(replace(SPEC, extra={}, extra_url=None), paths, src=str(z), extra=str(extras))
    assert f"EXTRA={extras}: added {', '.join(sorted(EXTRA_FILES))}" in capsys.readouterr().out
    assert sorted(read_source(paths)["files"]) == sorted(COMPETITION_FILES + EXTRA_FILES)
    assert (paths.raw / "train.csv").read_bytes() == (rossmann_sample_dir / "train.csv").read_bytes()


def test_local_folder_holding_everything(paths, rossmann_sample_dir):
    download(SPEC, paths, src=str(rossmann_sample_dir))
    assert read_source(paths)["kind"] == "real"


def test_corrupt_zip_leaves_raw_untouched(paths, tmp_path, rossmann_sample_dir):
    download(SPEC, paths, src=str(rossmann_sample_dir))
    before = {p.name: p.read_bytes() for p in paths.raw.iterdir()}
    z = make_zip(rossmann_sample_dir, tmp_path / "rossmann-store-sales.zip")
    data = bytearray(z.read_bytes())
    data[200:260] = b"\0" * 60  # damage compressed bytes of the first member
    z.write_bytes(bytes(data))
    with pytest.raises(DownloadError, match="corrupt"):
        download(SPEC, paths, src=str(z), extra=str(rossmann_sample_dir))
    truncated = tmp_path / "short.zip"
    truncated.write_bytes(bytes(data[:1000]))
    with pytest.raises(DownloadError, match="corrupt or truncated"):
        download(SPEC, paths, src=str(truncated), extra=str(rossmann_sample_dir))
    assert {p.name: p.read_bytes() for p in paths.raw.iterdir()} == before
    assert not list(paths.comp_dir.glob(".raw-staging-*"))


def test_missing_file_and_column_are_named(paths, tmp_path, rossmann_sample_dir):
    z = make_zip(rossmann_sample_dir, tmp_path / "r.zip", names=["train.csv", "store.csv", "sample_submission.csv"])
    with pytest.raises(DownloadError, match=r"test\.csv: missing"):
        download(SPEC, paths, src=str(z), extra=str(rossmann_sample_dir))
    broken = tmp_path / "broken"
    broken.mkdir()
    for p in rossmann_sample_dir.iterdir():
        (broken / p.name).write_bytes(p.read_bytes())
    lines = (broken / "store.csv").read_text().splitlines()
    (broken / "store.csv").write_text("\n".join(line.rsplit(",", 1)[0] for line in lines))
    with pytest.raises(DownloadError, match=r"store\.csv: missing column\(s\) \['PromoInterval'\]"):
        download(SPEC, paths, src=str(broken))
    assert not paths.raw.exists()


def tabular_files(folder: Path, sample: str = "sample_submission.csv") -> Path:
    folder.mkdir(parents=True)
    for name, text in (("train.csv", "Id,x,y\n1,2,3\n"), ("test.csv", "Id,x\n2,5\n"), (sample, "Id,y\n2,0\n")):
        (folder / name).write_text(text)
    return folder


TABULAR = DataSpec(
    slug="x",
    files={"train.csv": [], "test.csv": [], "sample_submission.csv": []},
    roles={"train.csv": "train", "test.csv": "test", "sample_submission.csv": "sample"},
)


def test_a_file_under_another_name_gets_the_card_line_that_names_it(tmp_path):
    """Titanic ships gender_submission.csv, Otto sampleSubmission.csv: the error says which file looks like the
    missing one and the card line that names it."""
    paths = Paths.for_comp("x", tmp_path / "data", tmp_path / "subs")
    src = tabular_files(tmp_path / "titanic", sample="gender_submission.csv")
    fix = r'the download has gender_submission\.csv: if that is it, add files=\{"sample": "gender_submission\.csv"\}'
    with pytest.raises(DownloadError, match=r"sample_submission\.csv: missing; " + fix):
        download(TABULAR, paths, src=str(src))
    assert not paths.raw.exists()


def test_a_folder_of_zips_is_unpacked(tmp_path):
    """An unpacked Kaggle download of an older competition: train.csv.zip, test.csv.zip, ... side by side."""
    paths = Paths.for_comp("x", tmp_path / "data", tmp_path / "subs")
    src, zips = tabular_files(tmp_path / "plain"), tmp_path / "zips"
    zips.mkdir()
    for p in src.iterdir():
        with zipfile.ZipFile(zips / f"{p.name}.zip", "w") as z:
            z.write(p, p.name)
    download(TABULAR, paths, src=str(zips))
    assert sorted(p.name for p in paths.raw.iterdir()) == [
        "SOURCE.json",
        "sample_submission.csv",
        "test.csv",
        "train.csv",
    ]
    assert (paths.raw / "test.csv").read_text() == (src / "test.csv").read_text()


def test_no_credentials_message(paths, monkeypatch, tmp_path):
    for var in ("KAGGLE_API_TOKEN", "KAGGLE_USERNAME", "KAGGLE_KEY"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("KAGGLE_CONFIG_DIR", str(tmp_path / "nowhere"))
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    with pytest.raises(DownloadError) as e:
        download(SPEC, paths)
    assert "no Kaggle credentials" in str(e.value)
    assert "make download COMP=rossmann SRC=path/to/rossmann-store-sales.zip" in str(e.value)


def test_kaggle_errors_become_fixes():
    import requests

    from pipelines.download import explain_kaggle_error

    def http(status):
        r = requests.Response()
        r.status_code = status
        return requests.exceptions.HTTPError(response=r)

    assert "/rules" in str(explain_kaggle_error(http(403), "rossmann-store-sales", "rossmann", "download"))
    assert "401" in str(explain_kaggle_error(http(401), "rossmann-store-sales", "rossmann", "download"))
    offline = explain_kaggle_error(requests.exceptions.ConnectionError("no route"), "s", "rossmann", "download")
    assert "cannot reach Kaggle" in str(offline) and "SRC=" in str(offline)


def test_sample_never_overwrites_real_data(paths, rossmann_sample_dir):
    download(SPEC, paths, src=str(rossmann_sample_dir))
    (paths.raw / "train.csv").write_text("sentinel")
    make_sample(SPEC, paths)
    assert (paths.raw / "train.csv").read_text() == "sentinel"


def test_files_placed_by_hand_are_adopted_or_refused(paths, rossmann_sample_dir):
    paths.raw.mkdir(parents=True)
    (paths.raw / "train.csv").write_bytes((rossmann_sample_dir / "train.csv").read_bytes())
    with pytest.raises(DownloadError, match="no SOURCE.json"):
        make_sample(SPEC, paths)
    for p in rossmann_sample_dir.iterdir():
        (paths.raw / p.name).write_bytes(p.read_bytes())
    make_sample(SPEC, paths)
    assert json.loads(paths.source_stamp.read_text())["source"].startswith("placed by hand")


class FakeKaggle:
    """Stands in for KaggleApi: either fails like the real client or 'downloads' a zip."""

    def __init__(self, error=None, archive=None):
        self.error, self.archive = error, archive

    def competition_download_files(self, slug, path, quiet):
        if self.error:
            raise self.error
        (Path(path) / f"{slug}.zip").write_bytes(self.archive.read_bytes())


def test_kaggle_api_path(paths, tmp_path, rossmann_sample_dir, monkeypatch):
    import requests

    import pipelines.download as dl

    r = requests.Response()
    r.status_code = 403
    monkeypatch.setattr(dl, "kaggle_api", lambda comp, slug: FakeKaggle(error=requests.HTTPError(response=r)))
    with pytest.raises(DownloadError, match="accepted the rules"):
        download(SPEC, paths, extra=str(rossmann_sample_dir))
    assert not paths.raw.exists()
    z = make_zip(rossmann_sample_dir, tmp_path / "x.zip")
    monkeypatch.setattr(dl, "kaggle_api", lambda comp, slug: FakeKaggle(archive=z))
    download(SPEC, paths, extra=str(rossmann_sample_dir))
    assert read_source(paths)["source"] == "kaggle:rossmann-store-sales"


@pytest.mark.parametrize(
    "content, problem",
    [("{not json", "is not valid JSON"), ('{"username": "me"}', "lacks 'key'"), ("[]", "lacks 'username' and 'key'")],
)
def test_a_malformed_kaggle_json_is_named_without_claiming_kaggle_refused_it(
    paths, monkeypatch, tmp_path, content, problem
):
    for var in ("KAGGLE_API_TOKEN", "KAGGLE_USERNAME", "KAGGLE_KEY"):
        monkeypatch.delenv(var, raising=False)
    (tmp_path / "cfg").mkdir()
    (tmp_path / "cfg" / "kaggle.json").write_text(content)
    monkeypatch.setenv("KAGGLE_CONFIG_DIR", str(tmp_path / "cfg"))
    with pytest.raises(DownloadError) as e:
        download(SPEC, paths)
    assert f"kaggle.json {problem}" in str(e.value) and "Kaggle was not contacted" in str(e.value)
    assert "rejected" not in str(e.value)
