import numpy as np
import pandas as pd
import pytest

from pipelines.download import DownloadError
from pipelines.submit import SubmissionError, submit, validate_submission, write_submission

SAMPLE = pd.DataFrame({"Id": [1, 2, 3], "Sales": [0, 0, 0]})


@pytest.mark.parametrize(
    "sub, message",
    [
        (pd.DataFrame({"Id": [1, 2, 3], "sales": [1.0, 2, 3]}), "columns"),
        (pd.DataFrame({"Id": [1, 2], "Sales": [1.0, 2]}), "2 rows, sample_submission has 3"),
        (pd.DataFrame({"Id": [1, 3, 2], "Sales": [1.0, 2, 3]}), "row 2 has Id=3"),
        (pd.DataFrame({"Id": [1, 2, 3], "Sales": [1.0, np.nan, 3]}), "1 rows with missing or non-finite values"),
        (pd.DataFrame({"Id": [1, 2, 3], "Sales": [1.0, np.inf, 3]}), "non-finite"),
    ],
)
def test_bad_submissions_are_named(sub, message):
    with pytest.raises(SubmissionError, match=message):
        validate_submission(sub, SAMPLE, "Id")


def test_failed_write_keeps_the_previous_file(tmp_path):
    path = tmp_path / "run.csv"
    good = pd.DataFrame({"Id": [1, 2, 3], "Sales": [1.0, 2.0, 3.0]})
    write_submission(good, SAMPLE, "Id", path)
    before = path.read_bytes()
    with pytest.raises(SubmissionError):
        write_submission(good.iloc[:2], SAMPLE, "Id", path)
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["run.csv"]


def test_submit_without_credentials_says_how(tmp_path, monkeypatch):
    for var in ("KAGGLE_API_TOKEN", "KAGGLE_USERNAME", "KAGGLE_KEY"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("KAGGLE_CONFIG_DIR", str(tmp_path))
    monkeypatch.setenv("HOME", str(tmp_path))
    with pytest.raises(DownloadError, match="no Kaggle credentials"):
        submit("rossmann-store-sales", "rossmann", tmp_path / "x.csv", "msg")


def test_submit_calls_the_kaggle_client(tmp_path, monkeypatch, capsys):
    import pipelines.submit as sm

    calls = []

    class Api:
        def competition_submit(self, file_name, message, competition):
            calls.append((file_name, message, competition))
            return type("R", (), {"message": "Successfully submitted"})()

    monkeypatch.setattr(sm, "kaggle_api", lambda comp, slug: Api())
    submit("rossmann-store-sales", "rossmann", tmp_path / "x.csv", "run valid RMSPE 0.1")
    assert calls == [(str(tmp_path / "x.csv"), "run valid RMSPE 0.1", "rossmann-store-sales")]
    assert "Successfully submitted" in capsys.readouterr().out
