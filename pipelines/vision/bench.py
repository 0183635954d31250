"""Image benchmarks on a competition's real sample in ../shared/data/images (skipped when absent); each image
competition's bench.py names its archive and calls `main`:

    python -m pipelines.bench dogs-vs-cats|planet|dog-breed [--parts loader,precision,all] [--args ...]

loader:    training-loader images/s from the pre-resized cache vs decoding the original JPEGs every epoch
           (with and without JPEG draft mode), side by side, median of 3 passes.
precision: training step images/s of EfficientNet-Lite0 at 224 px, fp32 / bf16 autocast x NCHW / channels_last.
all:       `make all COMP=...` on the real sample (download, features, train, predict): wall time and results.
probe:     the probe's 5-fold logistic regression on its cached features: scikit-learn's (a tag at a time) beside
           models.linear's (every tag at once), median of 3, and each out-of-fold log loss.
backtest:  `make backtest COMP=...` on the real sample (the default, with the simplest linear probe beside it on
           each cut, see pipelines/vision/backtest.py) and, with --net, the fine-tuned net alone: out-of-fold
           (valid) vs hidden (backtest) on the same cuts.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

import torch

from pipelines.paths import ROOT, SHARED

IMAGES = SHARED / "images"


def _median_rate(fn, n: int, repeats: int = 3) -> tuple[float, list[float]]:
    rates = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        rates.append(n / (time.perf_counter() - t0))
    return statistics.median(rates), rates


def bench_loader(comp: str, data_root: Path, size: int = 224, n: int = 400) -> None:
    from PIL import Image

    from features.images import resize_crop, to_rgb
    from models.image_data import ImageDataset, image_loader, train_transform, valid_transform
    from pipelines import registry
    from pipelines.config import resolve
    from pipelines.paths import Paths
    from pipelines.vision.data import load_processed

    paths = Paths.for_comp(comp, data_root)
    cfg = resolve(registry.load(comp).Config(), None, [f"sizes=[{size}]"])
    data = load_processed(paths, cfg, comp)
    files = [paths.raw / f for f in data.items.file[:n]]
    rows = data.items.row.to_numpy()[:n]
    tfm = train_transform(size, "side_on", max_rotate=cfg.max_rotate, min_scale=cfg.min_scale, lighting=cfg.lighting)
    sources = {
        "pre-resized cache (memory-mapped)": ImageDataset(data.cache_dir / "labelled.npy", None, tfm, rows=rows),
        "decode originals, draft mode": ImageDataset(files, None, tfm, size=round(1.3 * size)),
    }

    class FullDecode(ImageDataset):  # what a loader without draft mode does: decode at full size, then resize
        def image(self, i):
            with Image.open(self.files[i]) as img:
                arr = resize_crop(to_rgb(img), self.size)
            return torch.from_numpy(arr).permute(2, 0, 1)

    sources["decode originals, full size"] = FullDecode(files, None, tfm, size=round(1.3 * size))
    for label, transform in (
        ("training loader (augmented)", tfm),
        ("plain loader (resize only)", valid_transform(size)),
    ):
        print(f"{label} at {size}px, {n} real {comp} images, batch 32, 1 process, median of 3 passes:")
        base = None
        for name, ds in sources.items():
            ds.transform = transform
            dl = image_loader(ds, 32, shuffle=True)
            rate, rates = _median_rate(lambda dl=dl: [b for b in dl], n)
            base = base or rate
            print(
                f"  {name:<36} {rate:7.0f} images/s  (passes {', '.join(f'{r:.0f}' for r in rates)})  "
                f"cache is {base / rate:.1f}x"
            )


def bench_precision(size: int = 224, bs: int = 32, steps: int = 4) -> None:
    from models.device import cpu_has_bf16_matmul
    from models.vision import ImageModel, create_body

    torch.manual_seed(0)
    model = ImageModel(create_body("efficientnet_lite0", pretrained=True), 2)
    model.unfreeze()
    x = torch.randint(0, 255, (bs, 3, size, size), dtype=torch.uint8)
    y = torch.randint(0, 2, (bs,))
    opt = torch.optim.AdamW(model.parameters(), lr=1e-5, fused=True)
    print(
        f"training step, EfficientNet-Lite0 unfrozen, {size}px, batch {bs}, {torch.get_num_threads()} threads "
        f"(AMX: {cpu_has_bf16_matmul()}), images/s median of {steps} steps after 1 warm-up:"
    )
    for bn_freeze in (False, True):
        model.bn_freeze = bn_freeze
        for cl in (False, True):
            fmt = torch.channels_last if cl else torch.contiguous_format
            model.to(memory_format=fmt)
            xb = x.contiguous(memory_format=fmt)
            for dtype in (None, torch.bfloat16):

                def step(m=model, xb=xb, dtype=dtype):
                    with torch.autocast("cpu", dtype=dtype or torch.float32, enabled=dtype is not None):
                        loss = torch.nn.functional.cross_entropy(m(xb).float(), y)
                    loss.backward()
                    opt.step()
                    opt.zero_grad()

                model.train()
                step()
                rate, _ = _median_rate(step, bs, steps)
                print(
                    f"  body BatchNorm {'frozen' if bn_freeze else 'training'}  {'channels_last' if cl else 'NCHW':<14}"
                    f" {'bf16' if dtype else 'fp32':<5} {rate:6.1f} images/s"
                )
    model.eval()
    with torch.no_grad():
        for dtype in (None, torch.bfloat16):
            xb = x.contiguous(memory_format=torch.channels_last)

            def forward(xb=xb, dtype=dtype):
                with torch.autocast("cpu", dtype=dtype or torch.float32, enabled=dtype is not None):
                    model(xb)

            forward()
            rate, _ = _median_rate(forward, bs, steps)
            print(f"  inference (eval)  channels_last  {'bf16' if dtype else 'fp32':<5} {rate:6.1f} images/s")


def bench_all(comp: str, src: Path, args: str = "") -> None:
    with tempfile.TemporaryDirectory(prefix=f"bench-{comp}-") as tmp:
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        common = [f"COMP={comp}", f"DATA={tmp}/data", f"SUBMISSIONS={tmp}/subs"] + ([f"ARGS={args}"] if args else [])
        t0 = time.perf_counter()
        subprocess.run(
            ["make", "--no-print-directory", "download", *common, f"SRC={src}"],
            cwd=ROOT,
            env=env,
            check=True,
            stdout=subprocess.DEVNULL,
        )
        r = subprocess.run(
            ["make", "--no-print-directory", "all", *common],
            cwd=ROOT,
            env=env,
            check=True,
            capture_output=True,
            text=True,
        )
        wall = time.perf_counter() - t0
        result = json.loads((Path(tmp) / "data" / comp / "runs" / "default" / "result.json").read_text())
        starts = ("validation", "submission", "no test", "logloss on", "f2 on", "probe")
        lines = [ln for ln in r.stdout.splitlines() if ln.startswith(starts)]
        print(f"make download + make all COMP={comp} {args}: {wall:.0f} s wall")
        for ln in lines:
            print(f"  {ln}")
        keep = ("valid_", "oof_", "members", "weights", "train_sec", "total")
        print("  " + json.dumps({k: v for k, v in result.items() if k.startswith(keep)}))


def bench_backtest(comp: str, src: Path, net: bool) -> None:
    """make backtest for the default run and the peers on the same cuts; one table at the end."""
    import pandas as pd

    runs = {"default": "", **({"net": "members=[net]"} if net else {})}
    with tempfile.TemporaryDirectory(prefix=f"bench-{comp}-") as tmp:
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        common = [f"COMP={comp}", f"DATA={tmp}/data", f"SUBMISSIONS={tmp}/subs"]
        make = ["make", "--no-print-directory"]
        subprocess.run([*make, "download", *common, f"SRC={src}"], cwd=ROOT, env=env, check=True, capture_output=True)
        tables = []
        for run, args in runs.items():
            t0 = time.perf_counter()
            r = subprocess.run(
                [*make, "backtest", *common, f"RUN={run}", f"ARGS={args}"],
                cwd=ROOT,
                env=env,
                capture_output=True,
                text=True,
            )
            if r.returncode:
                raise RuntimeError(f"make backtest RUN={run} failed:\n{r.stdout[-3000:]}\n{r.stderr[-3000:]}")
            table = pd.read_csv(Path(tmp) / "data" / comp / "backtest" / f"{run}.csv")
            tables.append(table.assign(run=run, wall_s=round(time.perf_counter() - t0)))
            print(f"make backtest COMP={comp} RUN={run} ARGS='{args}': {time.perf_counter() - t0:.0f} s", flush=True)
        table = pd.concat(tables)
        cols = ["run", "window", "member", "valid", "backtest", *[c for c in table if c == "accuracy"]]
        print(f"\n{comp}: out-of-fold (valid) vs hidden (backtest), same cuts; valid of the net: its holdout")
        print(table[cols].to_string(index=False, float_format=lambda v: f"{v:.4f}", na_rep="-"))
        print(table.groupby("run", sort=False).wall_s.first().to_string())


def sklearn_fit_predict(x, y, evals, multi_label: bool, n_classes: int, c: float) -> list:
    """The probe's fit before models.linear (scikit-learn's LogisticRegression, one-vs-rest for tags): the reference
    the probe part times ours against. Same standardisation and view averaging as pipelines.vision.probe."""
    import warnings

    import numpy as np
    from sklearn.linear_model import LogisticRegression
    from sklearn.multiclass import OneVsRestClassifier

    from pipelines.vision.probe import scales

    dim = x.shape[-1]
    mu, sd = scales(x.reshape(-1, dim))
    rows, targets = ((x - mu) / sd).reshape(-1, dim), np.concatenate([y] * x.shape[0])
    model = LogisticRegression(C=c, max_iter=1000)
    with warnings.catch_warnings():
        # a tag absent in this fold, or present in every image of it: sklearn's constant predictor, said each time
        warnings.filterwarnings("ignore", message="Label", category=UserWarning)
        model = OneVsRestClassifier(model).fit(rows, targets) if multi_label else model.fit(rows, targets)
    out = []
    for ev in evals:
        p = np.mean([model.predict_proba((view - mu) / sd) for view in ev], axis=0)
        if not multi_label and p.shape[1] != n_classes:
            full = np.full((len(p), n_classes), 1e-6)
            full[:, model.classes_] = p
            p = full / full.sum(1, keepdims=True)
        out.append(p)
    return out


def bench_probe(comp: str, src: Path, data_root: str = "", args: str = "", repeats: int = 3) -> None:
    """The probe's 5-fold fit on the real sample's cached features (built by `make train ARGS=members=[probe]`, or
    read from `data_root` where that ran): scikit-learn's one-at-a-time fit beside models.linear's, the same folds,
    median of `repeats`; out-of-fold log loss."""
    import numpy as np
    import pandas as pd

    from models.metrics import binary_log_loss, multiclass_log_loss
    from pipelines import registry
    from pipelines.config import resolve
    from pipelines.cv import assign_folds
    from pipelines.paths import Paths
    from pipelines.vision.data import load_processed
    from pipelines.vision.probe import fit_predict, view_features

    with tempfile.TemporaryDirectory(prefix=f"bench-{comp}-") as tmp:
        if not data_root:
            data_root, env = f"{tmp}/data", {**os.environ, "PYTHONUNBUFFERED": "1"}
            common = [f"COMP={comp}", f"DATA={data_root}", f"ARGS=members=[probe] {args}"]
            for target in (["download", f"SRC={src}"], ["train"]):
                subprocess.run(["make", "--no-print-directory", *target, *common], cwd=ROOT, env=env, check=True)
        paths = Paths.for_comp(comp, Path(data_root))
        cfg = resolve(registry.load(comp).Config(), None, ["members=[probe]", *args.split()])
        data = load_processed(paths, cfg, comp)
        x = view_features(data, "labelled", cfg, paths)  # the cache the train step wrote
        labelled = data.frame("labelled")
        y = data.targets(labelled).numpy()
        groups = pd.factorize(labelled.group)[0] if "group" in labelled.columns else None  # the probe's folds
        folds, n_classes = assign_folds(y, cfg.folds, cfg.fold_seed, groups), len(data.classes)
        print(f"{comp}: {x.shape[0]} views x {x.shape[1]} images x {x.shape[2]} features, {n_classes} classes")
        for name, fit in (("scikit-learn", sklearn_fit_predict), ("models.linear", fit_predict)):
            seconds, oof = [], np.zeros((len(y), n_classes))
            for _ in range(repeats):
                t0 = time.perf_counter()
                for f in range(cfg.folds):
                    held = folds == f
                    oof[held] = fit(x[:, ~held], y[~held], [x[:, held]], data.multi_label, n_classes, cfg.probe_c)[0]
                seconds.append(time.perf_counter() - t0)
            # every tag's binary log loss averaged, or the classes' (models.metrics, as Kaggle scores them)
            loss = binary_log_loss(y, oof) if data.multi_label else multiclass_log_loss(y, oof)
            print(
                f"  {name}: {statistics.median(seconds):.2f} s (median of {repeats}), out-of-fold log loss {loss:.4f}"
            )


def main(argv: list[str] | None, comp: str, archive: str) -> None:
    """The benchmarks of image competition `comp` on ../shared/data/images/`archive`."""
    parser = argparse.ArgumentParser(prog=f"python -m pipelines.bench {comp}", description=__doc__.splitlines()[0])
    parser.add_argument("--parts", default="loader,precision,all")
    parser.add_argument("--args", default="", help="ARGS for the `all` and `probe` parts, e.g. 'amp=bf16'")
    parser.add_argument("--net", action="store_true", help="backtest part: also the fine-tuned net alone")
    parser.add_argument("--data", default="", help="probe part: a DATA folder where the probe already trained")
    args = parser.parse_args(argv)
    src, parts = IMAGES / archive, set(args.parts.split(","))
    if not src.is_file() and not (parts == {"probe"} and args.data):
        print(f"skipped: the real {comp} sample is not at {src}")
        return
    if "loader" in parts:
        with tempfile.TemporaryDirectory(prefix="bench-loader-") as tmp:
            env = {**os.environ}
            py = str(ROOT / ".venv" / "bin" / "python") if (ROOT / ".venv").is_dir() else "python"
            for step in (["download", "--src", str(src)], ["features"]):
                subprocess.run(
                    [py, "-m", "pipelines", step[0], comp, "--data", tmp, *step[1:]],
                    cwd=ROOT,
                    env=env,
                    check=True,
                    stdout=subprocess.DEVNULL,
                )
            bench_loader(comp, Path(tmp))
    if "precision" in parts:
        bench_precision()
    if "all" in parts:
        bench_all(comp, src, args.args)
    if "backtest" in parts:
        bench_backtest(comp, src, args.net)
    if "probe" in parts:
        bench_probe(comp, src, args.data, args.args)
