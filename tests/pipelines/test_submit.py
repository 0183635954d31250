import numpy as np
import pandas as pd
import pytest

from pipelines.download import DownloadError
from pipelines.submit import (
    SubmissionError,
    label,
    labels,
    number,
    probability,
    submit,
    validate_submission,
    write_submission,
)

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


@pytest.mark.parametrize(
    "values, rule, message",
    [
        (
            ["1.5", "abc", "2"],
            number(ge=0),
            r"column 'Sales' must hold finite numbers >= 0; 1 rows do not \(first: row 2, Id=2, Sales='abc'\)",
        ),
        ([1.5, -5.0, 2.0], number(ge=0), r"finite numbers >= 0; 1 rows do not \(first: row 2, Id=2, Sales=-5.0\)"),
        (["1", "2", "abc"], None, r"column 'Sales' must hold finite numbers; 1 rows"),  # numeric in the sample
        ([0.5, 1.2, 0.0], probability(), r"finite numbers >= 0 and <= 1"),
        (
            ["cat", "dog", "Cat"],
            label(["cat", "dog"]),
            r"one of cat, dog; 1 rows do not \(first: row 3, Id=3, Sales='Cat'\)",
        ),
        (
            ["clear", "clear road", "cloudy haze x"],
            labels(["clear", "road", "cloudy", "haze"]),
            r"space-separated tags among .* row 3",
        ),
    ],
)
def test_values_are_checked_per_column_as_the_competition_scores_them(values, rule, message):
    sub = pd.DataFrame({"Id": [1, 2, 3], "Sales": values})
    with pytest.raises(SubmissionError, match=message):
        validate_submission(sub, SAMPLE, "Id", columns={"Sales": rule} if rule else None)
    ok = pd.DataFrame({"Id": [1, 2, 3], "Sales": [0.0, 0.5, 1.0]})
    validate_submission(ok, SAMPLE, "Id", columns={"Sales": probability()})


def test_a_cards_submit_refuses_an_edited_csv_before_any_upload(sample_paths, monkeypatch):
    """`make submit` re-reads the CSV: a value edited by hand to text or a negative number is named, not sent."""
    import pipelines.submit as sm
    from pipelines import registry

    comp = registry.load("rossmann")
    comp.build_features(sample_paths, comp.Config())
    ids = pd.read_csv(sample_paths.raw / "sample_submission.csv").Id
    monkeypatch.setattr(sm, "kaggle_api", lambda *a: pytest.fail("the upload was reached"))
    sample_paths.submissions.mkdir(parents=True)
    for bad in ("abc", "-5"):
        sales = ["10.5"] * len(ids)
        sales[1] = bad
        pd.DataFrame({"Id": ids, "Sales": sales}).to_csv(sample_paths.submissions / "r.csv", index=False)
        with pytest.raises(SubmissionError, match=f"column 'Sales' must hold finite numbers >= 0.*Id={ids[1]}, Sales="):
            comp.submit(sample_paths, comp.Config(), "r")


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
    with pytest.raises(DownloadError, match="no Kaggle credentials") as e:
        submit("rossmann-store-sales", "rossmann", tmp_path / "x.csv", "msg")
    assert "make download" not in str(e.value)  # submitting: a manual upload, not a download hint
    assert str(e.value).endswith(f"competitions/rossmann-store-sales/submit:\n    {tmp_path / 'x.csv'}")


def test_submit_calls_the_kaggle_client(tmp_path, monkeypatch, capsys):
    import pipelines.submit as sm

    calls = []

    class Api:
        def competition_submit(self, file_name, message, competition):
            calls.append((file_name, message, competition))
            return type("R", (), {"message": "Successfully submitted"})()

    monkeypatch.setattr(sm, "kaggle_api", lambda comp, slug, action: Api())
    submit("rossmann-store-sales", "rossmann", tmp_path / "x.csv", "run valid RMSPE 0.1")
    assert calls == [(str(tmp_path / "x.csv"), "run valid RMSPE 0.1", "rossmann-store-sales")]
    assert "Successfully submitted" in capsys.readouterr().out


def test_ids_are_compared_as_kaggle_reads_them_and_absurd_numbers_are_refused():
    with pytest.raises(SubmissionError, match=r"row 1 has Id=1.0, sample_submission has 1"):
        validate_submission(pd.DataFrame({"Id": [1.0, 2.0, 3.0], "Sales": [1.0, 2, 3]}), SAMPLE, "Id")
    with pytest.raises(
        SubmissionError, match=r"column 'Sales' must hold finite numbers >= 0 and <= 1e\+06.*Sales=1e\+300"
    ):
        rules = {"Sales": number(ge=0, le=1e6)}
        validate_submission(pd.DataFrame({"Id": [1, 2, 3], "Sales": [1.0, 1e300, 3]}), SAMPLE, "Id", columns=rules)


@pytest.mark.parametrize("content", [b"", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\xff\xfe\x00"])
def test_an_empty_or_binary_submission_file_is_named(tmp_path, content):
    from pipelines.submit import read_submission

    path = tmp_path / "run.csv"
    path.write_bytes(content)
    with pytest.raises(SubmissionError, match=rf"{path}: not a CSV submission .*re-run make predict"):
        read_submission(path)


def test_make_submit_sends_the_file_as_it_is_and_never_trains(tmp_path):
    """A Store Item Demand trial: code changed since the run, `make submit` set off a 9-minute retrain (make's file
    times), and stopping it lost the finished run. Now submit runs alone, and refuses a file its run outdates."""
    import os
    import time

    from makes import make

    from pipelines.submit import submittable

    planned = make("-n", "submit", "COMP=rossmann", f"DATA={tmp_path / 'data'}").stdout  # what make would run
    assert "pipelines submit" in planned and "pipelines train" not in planned and "pipelines predict" not in planned
    csv, result = tmp_path / "subs" / "r.csv", tmp_path / "runs" / "r" / "result.json"
    with pytest.raises(FileNotFoundError, match="r.csv not found: make all COMP=x RUN=r writes it"):
        submittable(csv, result, "x", "r", "x-slug")
    csv.parent.mkdir(parents=True)
    csv.write_text("Id,Sales\n1,2\n")
    submittable(csv, result, "x", "r", "x-slug")  # no run folder (a file made by hand): sent as it is
    result.parent.mkdir(parents=True)
    (result.parent / "config.json").write_text("{}")  # a training started and never finished (stopped, crashed)
    with pytest.raises(
        SubmissionError,
        match=r"run 'r' is unfinished .* may be another model's; make all COMP=x RUN=r finishes the run and writes its file, then make submit$",
    ):
        submittable(csv, result, "x", "r", "x-slug")
    result.write_text("{}")
    later = time.time() + 5
    os.utime(result, (later, later))  # trained again after the file was written
    with pytest.raises(SubmissionError, match="maybe by another model; make predict COMP=x RUN=r writes the run's"):
        submittable(csv, result, "x", "r", "x-slug")
