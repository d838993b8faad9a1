"""`archforge evaluate checkpoint=PATH [split=test|val] [data=NAME] [data.KEY=VALUE ...]`:
accuracy, per-class accuracy and a confusion matrix of a trained network on one split.

The data is the checkpoint's own data config unless `data=NAME` names another data set
(`conf/data/NAME.yaml`); `data.KEY=VALUE` overrides either (`data.root=~/fashion`). A folder
the checkpoint names that holds more than 100,000 files is refused unless the command line
names it (archforge/data/stored_folders.py). The
test split (`split=test`, the default) exists for data sets that keep one apart from
training and validation (fashion_mnist, mnist, image_folder with `data.test_dir`); searches
never read it. Results, headed by the split and where its images come from, are printed and
saved as `evaluation_<split>.json` and `confusion_<split>.png` in `output` (default: the
run directory the checkpoint belongs to).

It uses `archforge.checkpoint`, the data package and `archforge.training.evaluation`;
`archforge train test=true` (cli/train.py) reports through `report`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from omegaconf import OmegaConf

from archforge.checkpoint import load_network
from archforge.cli.command_args import parse_key_values
from archforge.data.stored_folders import check_stored_folders
from archforge.errors import ConfigError
from archforge.model.network import Network

KEYS = {"checkpoint": Path, "split": str, "data": str, "output": Path, "batch_size": int}
SPLITS = ("test", "val")


def data_config(meta: dict[str, Any], name: str | None, overrides: list[str]) -> Any:
    """The data section to evaluate on: `conf/data/<name>.yaml` when `name` is given, else
    the checkpoint's stored one (plain data, nothing interpolated), with `overrides`."""
    if name is not None:
        from archforge.config.compose import compose

        return compose([f"data={name}", *overrides], config_name="build").data
    config = meta.get("config")
    stored = config.get("data") if isinstance(config, dict) else None
    if not isinstance(stored, dict) or not stored.get("name"):
        raise ConfigError("data", "the checkpoint stores no data config; name one: data=NAME")
    merged = OmegaConf.merge(OmegaConf.create(stored, flags={"allow_objects": False}),
                             OmegaConf.from_dotlist([o.removeprefix("data.") for o in overrides]))
    data = OmegaConf.to_container(merged, resolve=False)
    named = {o.removeprefix("data.").partition("=")[0] for o in overrides}
    if isinstance(data, dict):  # a folder the checkpoint names is read only within a bound
        check_stored_folders({str(k): v for k, v in data.items()}, named)
    return data


def check_fits(net: Network, data: Any) -> None:
    """The network must take the data's images and predict its classes."""
    cfg = net.config
    got = (data.channels, (data.image_size, data.image_size), data.num_classes)
    want = (cfg.in_channels, cfg.spatial_size, cfg.num_classes)
    if got != want:
        raise ConfigError(
            "data",
            f"data '{data.config.name}' gives {data.channels}x{data.image_size}x"
            f"{data.image_size} images of {data.num_classes} classes but the network takes "
            f"{cfg.in_channels}x{cfg.spatial_size[0]}x{cfg.spatial_size[1]} and predicts "
            f"{cfg.num_classes} classes",
        )


def evaluate(args: list[str]) -> int:
    """archforge evaluate checkpoint=PATH [split=test|val] [data=NAME] [data.KEY=VALUE ...]
    [output=DIR] [batch_size=N]

    Accuracy, per-class accuracy and a confusion matrix of a trained network on one split,
    printed and saved as evaluation_<split>.json and confusion_<split>.png in output (default:
    the checkpoint's run directory)."""
    overrides = [a for a in args if a.startswith("data.")]
    opts = parse_key_values([a for a in args if a not in overrides], KEYS, "evaluate",
                            required=("checkpoint",))
    split = opts.get("split", "test")
    if split not in SPLITS:
        raise ConfigError("split", f"got {split!r}; expected test or val")
    if "batch_size" in opts:
        if opts["batch_size"] < 1:
            raise ConfigError("batch_size", f"got {opts['batch_size']}; expected >= 1")
        overrides.append(f"data.batch_size={opts['batch_size']}")
    checkpoint: Path = opts["checkpoint"]
    net, meta = load_network(checkpoint)
    report(net, data_config(meta, opts.get("data"), overrides), split,
           opts.get("output") or run_folder(checkpoint), checkpoint)
    return 0


def report(net: Network, data_cfg: Any, split: str, folder: Path, checkpoint: Path) -> None:
    """Evaluate `net` on `split` of the data `data_cfg` describes; print and save."""
    from archforge.data import build_datamodule
    from archforge.training import evaluation

    data = build_datamodule(data_cfg)
    check_fits(net, data)
    batches = data.test_dataloader() if split == "test" else data.val_dataloader()
    result = evaluation.evaluate(net, batches, data.class_names, split)
    source = data.split_source(split)
    print(f"{split} split: {source}")
    print("\n".join(result.lines()))
    extra: dict[str, object] = {"checkpoint": str(checkpoint), "data": data.config.name,
                                "source": source}
    written = evaluation.save(result, folder, extra)
    print("wrote " + ", ".join(str(p) for p in written))


def run_folder(checkpoint: Path) -> Path:
    """The run directory of `<run>/checkpoints/best.ckpt`, else the checkpoint's folder."""
    parent = checkpoint.resolve().parent
    return parent.parent if parent.name == "checkpoints" else parent
