"""`make kernel`: the folders it writes pass the kaggle client's own checks (kernels_push and dataset_create_new
run up to the network call, which is replaced by a stub that keeps the request)."""

from __future__ import annotations

import json
from contextlib import contextmanager
from types import SimpleNamespace

import pytest

from pipelines import kernel


class Captured:
    """A stand-in for the Kaggle client's transport: it keeps each request instead of sending it."""

    def __init__(self):
        self.requests = []
        keep = lambda request: self.requests.append(request) or SimpleNamespace(error="", ref="ok")
        self.client = SimpleNamespace(
            kernels=SimpleNamespace(kernels_api_client=SimpleNamespace(save_kernel=keep)),
            datasets=SimpleNamespace(dataset_api_client=SimpleNamespace(create_dataset=keep)),
        )

    @contextmanager
    def __call__(self):
        yield self.client


def test_kernel_folders_pass_the_kaggle_clients_checks(tmp_path, monkeypatch):
    from kaggle.api.kaggle_api_extended import KaggleApi
    from requests import HTTPError

    commands = kernel.write("dogs-vs-cats", "someone", True, tmp_path / "k", wheels=False)
    assert commands["kernel"] == f"kaggle kernels push -p {tmp_path / 'k' / 'kernel'}"
    api, sent = KaggleApi(), Captured()
    monkeypatch.setattr(api, "build_kaggle_client", sent)
    api.kernels_push(str(tmp_path / "k" / "kernel"))
    (request,) = sent.requests
    assert request.slug == "someone/dogs-vs-cats-fastai-chain" and request.language == "python"
    assert request.competition_data_sources == ["dogs-vs-cats-redux-kernels-edition"]
    assert request.dataset_data_sources == ["someone/kaggle-fastai-solutions"]
    assert request.enable_gpu and not request.enable_internet and request.is_private
    compile(request.text, "run.py", "exec")  # the script the kernel runs is valid Python
    assert "PY=" in request.text and "OUT=" in request.text and "/kaggle/input" in request.text

    def not_found(ref):
        raise HTTPError("404")

    api.config_values = {api.CONFIG_NAME_USER: "someone"}  # as authenticate() leaves it
    monkeypatch.setattr(api, "dataset_status", not_found)  # a new dataset
    monkeypatch.setattr(api, "upload_files", lambda *a, **k: None)
    result = api.dataset_create_new(str(tmp_path / "k" / "dataset"), dir_mode="zip")
    assert result.error is None and sent.requests[-1].slug == "kaggle-fastai-solutions"
    dataset = tmp_path / "k" / "dataset"
    assert (dataset / "project" / "Makefile").is_file() and (dataset / "project" / "pipelines" / "kernel.py").is_file()
    ranges = (dataset / "wheels" / "requirements.txt").read_text().split()
    assert "pandas>=3.0,<4" in ranges and not [r for r in ranges if r.startswith("torch")]


def test_kernel_refuses_a_bad_user_name(tmp_path):
    with pytest.raises(ValueError, match="KAGGLE_USER"):
        kernel.write("planet", "", False, tmp_path / "k", wheels=False)
    with pytest.raises(ValueError, match="not a Kaggle user name"):
        kernel.write("planet", "me/../x", False, tmp_path / "k", wheels=False)
    with pytest.raises(FileNotFoundError, match="needs store_states.csv.*make download COMP=rossmann"):
        kernel.write("rossmann", "someone", False, tmp_path / "k", wheels=False, raw=tmp_path / "nothing")


def test_kernel_metadata_title_resolves_to_its_id(tmp_path):
    kernel.write("planet", "someone", False, tmp_path / "k", args='epochs=5 cont_names=["a","PromoDay"]', wheels=False)
    meta = json.loads((tmp_path / "k" / "kernel" / "kernel-metadata.json").read_text())
    assert kernel.slugify(meta["title"]) == meta["id"].split("/")[1] and meta["enable_gpu"] is False
    script = (tmp_path / "k" / "kernel" / "run.py").read_text()
    compile(script, "run.py", "exec")  # quotes in ARGS stay inside one string
    assert repr('ARGS=epochs=5 cont_names=["a","PromoDay"]') in script


def test_a_card_kept_outside_the_repo_travels_in_the_bundle(tmp_path, monkeypatch):
    import pipelines

    monkeypatch.setenv("KAGGLE_COMPETITIONS", str(tmp_path / "ext"))
    monkeypatch.setattr(pipelines, "__path__", list(pipelines.__path__))
    (tmp_path / "ext" / "my_comp").mkdir(parents=True)
    card = 'from pipelines.tabular import Card\n\nCARD = Card(slug="my-comp", metric="rmse")\n'
    (tmp_path / "ext" / "my_comp" / "__init__.py").write_text(card)
    kernel.write("my-comp", "someone", False, tmp_path / "k", wheels=False)
    assert (tmp_path / "k" / "dataset" / "project" / "pipelines" / "my_comp" / "__init__.py").read_text() == card
    meta = json.loads((tmp_path / "k" / "kernel" / "kernel-metadata.json").read_text())
    assert meta["competition_sources"] == ["my-comp"]


@pytest.mark.slow
def test_the_kernel_script_runs_the_chain_on_a_kaggle_like_machine(tmp_path):
    """run.py as a Kaggle kernel runs it: the competition and the project dataset read-only under the input folder
    (KAGGLE_INPUT stands for /kaggle/input), this interpreter's packages (every bundled range already met: pip
    installs nothing), the chain in notebook mode, the submission left in the working folder."""
    import os
    import shutil
    import subprocess
    import sys

    from makes import make
    from test_notebook import set_writable, snapshot

    make("sample", f"DATA={tmp_path / 'gen'}")
    inputs, work = tmp_path / "input", tmp_path / "working"
    raw = tmp_path / "gen" / "rossmann" / "raw"  # Kaggle's files in the input; the external tables in the dataset
    kaggle_only = shutil.ignore_patterns(
        "SOURCE.json", "store_states.csv", "state_names.csv", "googletrend.csv", "weather.csv"
    )
    shutil.copytree(raw, inputs / "rossmann-store-sales", ignore=kaggle_only)
    folders = kernel.write(
        "rossmann", "someone", False, tmp_path / "k", "net_epochs=1 gbdt_rounds=30 gbdt_seeds=1", False, raw
    )
    assert folders["kernel"].endswith("kernel")
    shutil.copytree(tmp_path / "k" / "dataset", inputs / kernel.DATASET_SLUG)
    set_writable(inputs, False)
    before = snapshot(inputs)
    work.mkdir()
    env = {**os.environ, "KAGGLE_INPUT": str(inputs), "KAGGLE_WORKING": str(work), "PIP_NO_INDEX": "1"}
    try:
        r = subprocess.run(
            [sys.executable, tmp_path / "k" / "kernel" / "run.py"], cwd=work, env=env, capture_output=True, text=True
        )
        assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
        assert (
            f"environment: {sys.executable} as it is" in r.stdout and "is read-only: its files are linked" in r.stdout
        )
        sub = (work / "submission.csv").read_text().splitlines()
        assert sub[0] == "Id,Sales" and len(sub) > 100
        assert snapshot(inputs) == before
    finally:
        set_writable(inputs, True)


@pytest.mark.parametrize("exists", [False, True])
def test_push_versions_an_existing_dataset_waits_for_it_then_pushes_the_kernel(tmp_path, monkeypatch, exists):
    from requests import HTTPError, Response

    import pipelines.download as dl

    kernel.write("planet", "someone", False, tmp_path / "k", wheels=False)
    calls, status = [], iter(["ready"] if not exists else ["ok", "ready"])

    class FakeApi:
        def dataset_status(self, ref):
            calls.append(("status", ref))
            if not exists and len([c for c in calls if c[0] == "status"]) == 1:
                response = Response()
                response.status_code = 404
                raise HTTPError("404 Client Error", response=response)
            return next(status)

        def dataset_create_new(self, folder, dir_mode):
            calls.append(("create", dir_mode))
            return SimpleNamespace(error=None)

        def dataset_create_version(self, folder, notes, dir_mode):
            calls.append(("version", dir_mode))
            return SimpleNamespace(error=None)

        def kernels_push(self, folder):
            calls.append(("push", folder))
            return SimpleNamespace(error=None, url="https://www.kaggle.com/code/someone/x")

    monkeypatch.setattr(dl, "kaggle_api", lambda comp, slug, action: FakeApi())
    monkeypatch.setattr("time.sleep", lambda s: None)
    kernel.push("planet", "someone", tmp_path / "k")
    kinds = [c[0] for c in calls]
    assert ("version" if exists else "create") in kinds and kinds[-1] == "push"
    assert kinds.index("push") > max(i for i, k in enumerate(kinds) if k == "status")  # pushed once ready
