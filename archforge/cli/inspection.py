"""`archforge summary`, `archforge blocks` and `archforge zoo`: inspection commands."""

from __future__ import annotations

import inspect
import sys
from collections.abc import Callable
from typing import Any

from omegaconf import DictConfig
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from archforge.api import summary as api_summary
from archforge.config.compose import zoo_names
from archforge.config.follow_data import follow_data
from archforge.errors import ConfigError, closest
from archforge.model.discovery import load_plugins
from archforge.model.options import BLOCK_ARGS, HEAD_ARGS, STEM_ARGS, option_specs
from archforge.model.registry import BLOCKS, HEADS, SHORTCUTS, STEMS, Registry
from archforge.model.summary import fmt_shape, human
from archforge.model.weights_file import check_weights_file
from archforge.plain import to_plain


def _console() -> Console:
    return Console(width=max(Console().width, 110))


def summary_task(cfg: DictConfig) -> None:
    """The Hydra task of `archforge summary`: the network `cfg.model` describes, following
    the selected data as `train` does (an image folder's size read from its images)."""
    model = to_plain(cfg.model, "model")
    if cfg.get("data") is not None:
        resolved, notes = follow_data(to_plain(cfg, "config"))
        model = resolved["model"]
        for line in notes:
            print(line, file=sys.stderr)
    report = api_summary(model)
    check_weights_file(model.get("weights"))
    table = Table(title=f"{report.name}  (input {fmt_shape(report.input_shape)})")
    for col, justify in (("layer", "left"), ("plugin", "left"), ("output", "right"),
                         ("params", "right"), ("MACs", "right")):
        table.add_column(col, justify=justify)  # type: ignore[arg-type]
    for row in report.rows:
        table.add_row(row.name, row.kind, fmt_shape(row.out_shape), f"{row.params:,}",
                      f"{row.macs:,}")
    table.add_section()
    table.add_row("total", "", "", f"{report.total_params:,}", f"{report.total_macs:,}")
    console = _console()
    console.print(table)
    console.print(
        f"{report.total_params:,} params ({human(report.total_params)}), "
        f"{report.total_macs:,} MACs ({human(report.total_macs)}) at batch size 1"
    )
    if cfg.get("proxies"):
        _print_proxies(cfg, model, console)


def _print_proxies(cfg: DictConfig, model: dict[str, Any], console: Console) -> None:
    """`proxies=true` (all) or `proxies=[synflow,naswot]`: zero-cost proxies of the network
    at initialisation (seed 0) on one batch of the selected data (archforge/search/proxies)."""
    import torch

    from archforge.api import build, resolve
    from archforge.search.proxies import DATA_FREE, PROXIES, score
    from archforge.search.proxies.batch import data_batch, random_batch

    wanted = cfg.proxies
    names = PROXIES.names() if wanted is True else [str(n) for n in wanted]
    for name in names:
        PROXIES.get(name, "proxies")
    size = int(cfg.get("proxy_batch") or 64)
    if cfg.get("data") is not None:
        batch, source = data_batch(to_plain(cfg.data, "data"), size), f"data={cfg.data.name}"
    else:
        batch = random_batch(resolve(model), size)
        source = "a random Gaussian batch (pass data=<name> for the data-dependent proxies)"
    torch.manual_seed(0)
    scores = score(build(model), batch, names)
    table = Table(title=f"zero-cost proxies at initialisation, batch of {len(batch[0])} from "
                  f"{source}")
    table.add_column("proxy")
    table.add_column("score", justify="right")
    table.add_column("needs data")
    for name, value in scores.items():
        table.add_row(name, f"{value:.6g}", "no" if name in DATA_FREE else "yes")
    console.print(table)


def _first_line(obj: Callable[..., Any]) -> str:
    # The plugin's own docstring only: an inherited nn.Module docstring says nothing useful.
    doc = inspect.cleandoc(obj.__dict__.get("__doc__") or "") if inspect.isclass(obj) else (
        inspect.getdoc(obj) or ""
    )
    return doc.strip().splitlines()[0] if doc.strip() else ""


def blocks(args: list[str]) -> int:
    """archforge blocks [NAME ...]

    The registered plugins (blocks, shortcuts, stems, heads) with their options and
    docstrings; names limit the tables to those plugins."""
    load_plugins()
    console = _console()
    registries: list[tuple[Registry[Any], tuple[str, ...]]] = [
        (BLOCKS, BLOCK_ARGS), (SHORTCUTS, BLOCK_ARGS), (STEMS, STEM_ARGS), (HEADS, HEAD_ARGS)
    ]
    known = sorted({name for registry, _ in registries for name in registry.names()})
    for name in args:
        if name not in known:
            hint = closest(name, known)
            did = f"; did you mean {hint!r}?" if hint else ""
            raise ConfigError("blocks", f"no plugin named {name!r}{did} "
                              "(archforge blocks lists them all)")
    wanted = set(args)
    for registry, builder_args in registries:
        table = Table(title=f"{registry.kind}s", show_lines=True)
        table.add_column("name", style="bold")
        table.add_column("options")
        table.add_column("description")
        for name in registry.names():
            if wanted and name not in wanted:
                continue
            entry = registry.entry(name)
            specs = option_specs(entry.factory, builder_args).values()
            opts = "\n".join(s.describe() for s in specs)
            # docstrings and origins are shown verbatim: "[...]" in them is not rich markup
            table.add_row(escape(name), escape(opts) or "-",
                          f"{escape(_first_line(entry.factory))}\n[dim]{escape(entry.origin)}")
        if table.row_count:
            console.print(table)
    return 0


def zoo(args: list[str]) -> int:
    """archforge zoo [MODEL ...]

    Every model under conf/model (or the ones named) with its input, classes, params and
    MACs; exit status 1 when a model fails to build."""
    names = args or zoo_names()
    table = Table(title="archforge model zoo")
    for col in ("model", "input", "classes", "params", "MACs"):
        table.add_column(col, justify="left" if col == "model" else "right")
    failures = 0
    for name in names:
        try:
            report = api_summary(name)
        except ConfigError as exc:
            table.add_row(escape(name), "", "", "[red]error", escape(str(exc)))
            failures += 1
            continue
        table.add_row(name, fmt_shape(report.input_shape), str(report.rows[-1].out_shape[0]),
                      f"{report.total_params:,}", f"{human(report.total_macs)}")
    _console().print(table)
    return 1 if failures else 0
