"""Experiment tracking across runs, for every competition:

    python -m pipelines.tracking runs [--comp COMP] [--data DATA]          (make runs [COMP=...])
    python -m pipelines.tracking report COMP RUN [--data DATA]             (make report COMP=... RUN=...)

`runs`: one table of every finished run on disk (data/*/runs/*/result.json): competition, run, seeds, when,
git commit, device, wall time, the validation headline (the package's `HEADLINE`, else its first `valid_`
number) and what it was scored on (folds out of fold, a holdout's rows), backtest figures where `make backtest`
left them, and the config keys that differ from the competition's defaults; best first per competition; also
written to data/runs.csv. Under it, a line for each run whose training started and never finished.
`report`: one self-contained HTML page per run (data/COMP/runs/RUN/report.html: every image embedded, no
network) with the config, the result, every per-epoch table and every plot of the run folder, plus the
competition's own sections (`report_sections(paths, run)` in its package, optional); and data/index.html
linking every run's report beside the runs table.
TensorBoard event files sit in each run folder (`tb/`): `make tensorboard` serves them.
"""

from __future__ import annotations

import argparse
import base64
import html
import json
import sys
import time
from pathlib import Path

import pandas as pd

from features.io import atomic_write_text, read_json_object, write_csv
from pipelines import backtest, registry
from pipelines.config import to_dict
from pipelines.paths import Paths
from pipelines.runs import RunDir

LOWER_IS_BETTER = ("loss", "rmspe", "rmse", "error")


def lower_is_better(metric: str) -> bool:
    return any(word in metric for word in LOWER_IS_BETTER)


def _package(comp: str):
    """The competition's package, for its Config and HEADLINE; None for a folder that is no competition, or (said)
    whose package does not import: the listings of the others still work."""
    try:
        module = registry.find(comp)
    except SystemExit as e:  # the registry's message names the file and line
        print(f"warning: {comp}'s runs listed without its package's headline and defaults: {e}", file=sys.stderr)
        return None
    return module if hasattr(module, "Config") else None


def headline(package, result: dict) -> str | None:
    """The result key a competition is judged by: its package's HEADLINE, else the first `valid_` number."""
    key = getattr(package, "HEADLINE", None)
    if key in result:
        return key
    return next((k for k, v in result.items() if k.startswith("valid_") and isinstance(v, (int, float))), None)


def config_changes(package, config: dict) -> dict:
    """The keys of a run's config whose values differ from the competition's defaults."""
    if package is None or not config:
        return {}
    defaults = to_dict(package.Config())
    return {k: v for k, v in config.items() if k in defaults and defaults[k] != v}


def _wall(result: dict) -> float | None:
    if "total_seconds" in result:
        return result["total_seconds"]
    parts = [r.get("train_seconds", 0) for r in result.get("per_seed", [])]
    parts += [result.get(k, {}).get("train_seconds", 0) for k in ("gbdt", "gbdt_refit")]
    parts.append(result.get("train_seconds", 0) or 0)
    return round(sum(parts), 1) or None


def _backtest(paths: Paths, run: str) -> str:
    """The submission's figure on each window of run `run`'s backtest, marked `stale` where the backtest was made
    with other settings or code than the run, or other raw data than raw/ holds now (`backtest.stale`)."""
    folder = paths.comp_dir / "backtest"
    made = read_json_object(folder / f"{run}.json")  # {"made_with": ..., "rows": [...]}; a list (older backtests): {}
    if "rows" in made:
        rows = pd.DataFrame(made["rows"])
    elif (folder / f"{run}.csv").is_file():
        rows = pd.read_csv(folder / f"{run}.csv")
    else:
        return ""
    rows = rows[rows.member == "submission"]
    figures = "; ".join(f"{r.window} {r.backtest:.5f}" for r in rows.itertuples())
    why = backtest.stale(paths, run, made.get("made_with", {}))
    return f"{figures} (stale: {why})" if why else figures


def _scored_on(result: dict) -> str:
    """What a run's figure was scored on, as its result says ("" for results that do not)."""
    rows = result.get("scored_rows")
    return str(result.get("scored_on", "")) + (f" ({rows:,} rows)" if isinstance(rows, int) else "")


def _number(value) -> float | None:
    """A result's headline as a number (ranked), or None when the file holds something else (ranked last)."""
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def runs_table(data_root: Path, comp: str | None = None) -> pd.DataFrame:
    """Every finished run under `data_root` (one competition's with `comp`), best first per competition."""
    rows, packages = [], {}
    pattern = f"{comp or '*'}/runs/*/result.json"
    for result_file in sorted(data_root.glob(pattern)):
        run_dir = result_file.parent
        name = run_dir.parents[1].name
        package = packages.setdefault(name, _package(name))
        result, tracking = read_json_object(result_file), read_json_object(run_dir / "tracking.json")
        key = headline(package, result)
        git = tracking.get("git", {})
        rows.append(
            {
                "competition": name,
                "run": run_dir.name,
                "seeds": " ".join(map(str, result.get("seeds", []))) or "-",
                "finished": time.strftime("%Y-%m-%d %H:%M", time.localtime(result_file.stat().st_mtime)),
                "commit": (git.get("commit") or "")[:8] + ("+" if git.get("dirty") else ""),
                "device": result.get("device") or next((r.get("device") for r in result.get("per_seed", [])), ""),
                "wall_s": _wall(result),
                "metric": key or "",
                "value": _number(result.get(key)) if key else None,
                "on": _scored_on(result),  # 5 folds out of fold, or a holdout's 260 images: how far to trust it
                "backtest": _backtest(Paths(name, data_root), run_dir.name),
                "changed": " ".join(
                    f"{k}={json.dumps(v)}" for k, v in config_changes(package, tracking.get("config", {})).items()
                ),
            }
        )
    table = pd.DataFrame(rows, columns=list(rows[0]) if rows else ["competition", "run", "metric", "value"])
    if table.empty:
        return table
    order = []
    for _, group in table.groupby("competition", sort=True):
        ascending = lower_is_better(group.metric.iloc[0])
        order.append(group.sort_values("value", ascending=ascending, na_position="last"))
    return pd.concat(order, ignore_index=True)


def unfinished(data_root: Path, comp: str | None = None) -> list[str]:
    """A line for each run under `data_root` whose training started and never finished (stopped, or running now),
    with the figure of its last finished training where it was one trained again (`RunDir.previous`)."""
    lines, packages = [], {}
    for config in sorted(data_root.glob(f"{comp or '*'}/runs/*/config.json")):
        folder, name = config.parent, config.parents[2].name
        if (folder / "result.json").is_file():
            continue
        started = read_json_object(folder / "run.json").get("started", "?")
        kept = RunDir(folder).previous
        previous = read_json_object(kept)
        key = headline(packages.setdefault(name, _package(name)), previous) if previous else None
        last = f"; its last finished training's {key} {previous.get(key)} ({kept})"
        lines.append(
            f"{name} {folder.name}: unfinished, a training started {started} (stopped, or running now)"
            f"{last if key else ''}: make all COMP={name} RUN={folder.name} finishes it"
        )
    return lines


def print_runs(data_root: Path, comp: str | None = None) -> pd.DataFrame:
    table, stopped = runs_table(data_root, comp), unfinished(data_root, comp)
    if table.empty:
        print(f"no finished runs under {data_root} (make train writes them)", *stopped, sep="\n")
        return table
    out = data_root / "runs.csv" if comp is None else data_root / comp / "runs.csv"
    write_csv(table, out)
    with pd.option_context("display.max_colwidth", 60, "display.width", 250):
        print(table.to_string(index=False, na_rep="-"))
    if table.get("backtest", pd.Series(dtype=str)).str.contains("(stale: ", regex=False).any():
        print(
            "\nstale: that backtest was made with other settings, code or raw data than its run's figure beside it; "
            "make backtest COMP=... RUN=... again (with the run's ARGS) to score the run as it is"
        )
    print(f"\n{len(table)} run(s); table: {out}", *stopped, sep="\n")
    return table


# --- report pages ---

CSS = """body{font-family:system-ui,sans-serif;margin:2em;max-width:1200px;color:#222}
table{border-collapse:collapse;font-size:13px;margin:.5em 0 1.5em}td,th{border:1px solid #ccc;padding:3px 7px;text-align:right}
th{background:#f3f3f3}td:first-child,th:first-child{text-align:left}img{max-width:100%;border:1px solid #ddd;margin:.5em 0}
.changed{background:#fff3c4}h2{border-bottom:1px solid #ddd;padding-bottom:.2em}"""


def img_tag(png: Path, alt: str = "") -> str:
    data = base64.b64encode(png.read_bytes()).decode()
    return f'<img alt="{html.escape(alt or png.name)}" src="data:image/png;base64,{data}">'


def _kv_table(items: dict, highlight: set | None = None) -> str:
    cells = []
    for k, v in items.items():
        cls = ' class="changed"' if highlight and k in highlight else ""
        text = json.dumps(v) if isinstance(v, (list, dict)) else str(v)
        cells.append(f"<tr{cls}><td>{html.escape(k)}</td><td>{html.escape(text)}</td></tr>")
    return "<table>" + "".join(cells) + "</table>"


def page(title: str, sections: list[tuple[str, str]]) -> str:
    body = "".join(f"<h2>{html.escape(name)}</h2>\n{content}\n" for name, content in sections)
    return (
        f'<!doctype html><html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}</title>'
        f"<style>{CSS}</style></head><body><h1>{html.escape(title)}</h1>\n{body}</body></html>\n"
    )


def report(paths: Paths, run: str) -> Path:
    """Write runs/RUN/report.html (self-contained) and refresh the index page; returns the report's path."""
    run_dir = paths.runs / run
    result = read_json_object(run_dir / "result.json")
    if not result:
        raise FileNotFoundError(
            f"{run_dir / 'result.json'} not found: train first (make train COMP={paths.comp} RUN={run})"
        )
    package = _package(paths.comp)
    tracking = read_json_object(run_dir / "tracking.json")
    config = tracking.get("config", {})
    key = headline(package, result)
    scalars = {k: v for k, v in result.items() if isinstance(v, (int, float, str, bool))}
    sections = [("Summary", _kv_table({"headline": f"{key} = {result.get(key)}" if key else "-", **scalars}))]
    if tracking:
        git = tracking.get("git", {})
        sections.append(
            (
                "Provenance",
                _kv_table(
                    {
                        "commit": git.get("commit"),
                        "dirty": git.get("dirty"),
                        "finished": tracking.get("finished"),
                        **tracking.get("env", {}),
                    }
                ),
            )
        )
    if config:
        sections.append(
            ("Config (changed from the defaults highlighted)", _kv_table(config, set(config_changes(package, config))))
        )
    nested = {k: v for k, v in result.items() if isinstance(v, dict)}
    if nested:
        sections.append(
            ("Result details", "".join(f"<h3>{html.escape(k)}</h3>{_kv_table(v)}" for k, v in nested.items()))
        )
    for csv_file in sorted(run_dir.rglob("metrics.csv")):
        label = csv_file.parent.relative_to(run_dir).as_posix()
        sections.append(
            (
                f"Per epoch: {label if label != '.' else run}",
                pd.read_csv(csv_file).to_html(index=False, float_format=lambda v: f"{v:.5g}", na_rep="-"),
            )
        )
    for csv_file in sorted(run_dir.rglob("importance.csv")):
        table = pd.read_csv(csv_file)
        label = csv_file.parent.relative_to(run_dir).as_posix()  # targets/<target> where each has its own
        sections.append(
            (
                "Feature importance (LightGBM's gain share)" + (f": {label}" if label != "." else ""),
                table.to_html(index=False, float_format=lambda v: f"{v:.4f}"),
            )
        )
    for csv_file in sorted(run_dir.rglob("per_tag.csv")):
        sections.append(("Per tag", pd.read_csv(csv_file).to_html(index=False, float_format=lambda v: f"{v:.4f}")))
    extra = getattr(package, "report_sections", None) if package is not None else None
    if extra is not None:
        sections += extra(paths, run)
    shown = "".join(content for _, content in sections)
    pngs = [p for p in sorted(run_dir.rglob("*.png")) if base64.b64encode(p.read_bytes()).decode() not in shown]
    if pngs:  # every plot of the run folder not shown above already
        sections.append(
            ("Plots", "".join(f"<h3>{html.escape(p.relative_to(run_dir).as_posix())}</h3>{img_tag(p)}" for p in pngs))
        )
    out = run_dir / "report.html"
    atomic_write_text(out, page(f"{paths.comp} / {run}", sections))
    index(paths.data_root)
    print(f"report: {out}\nindex: {paths.data_root / 'index.html'}")
    return out


def index(data_root: Path) -> Path:
    """data/index.html: the runs table with a link to every run's report that exists."""
    table = runs_table(data_root)
    if not table.empty:
        link = lambda r: (
            f'<a href="{r.competition}/runs/{r.run}/report.html">{html.escape(r.run)}</a>'
            if (data_root / r.competition / "runs" / r.run / "report.html").is_file()
            else html.escape(r.run)
        )
        table = table.assign(run=[link(r) for r in table.itertuples()])
    content = table.to_html(index=False, escape=False, na_rep="-") if not table.empty else "<p>no runs yet</p>"
    out = data_root / "index.html"
    atomic_write_text(out, page("Runs", [("Every run on disk, best first per competition", content)]))
    return out


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m pipelines.tracking", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="what", required=True)
    runs = sub.add_parser("runs", help="one table of every run on disk")
    runs.add_argument("--comp")
    rep = sub.add_parser("report", help="an HTML page for one run (and the index)")
    rep.add_argument("comp")
    rep.add_argument("run")
    for p in (runs, rep):
        p.add_argument("--data", help="data root (default: ./data or $DATA)")
    args = parser.parse_args(argv)
    if args.what == "runs":
        print_runs(Paths.for_comp("x", args.data).data_root, args.comp)
    else:
        try:
            report(Paths.for_comp(args.comp, args.data), args.run)
        except FileNotFoundError as e:
            raise SystemExit(f"error: {e}") from None


if __name__ == "__main__":
    main()
