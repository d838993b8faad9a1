"""A Lightning + Hydra application of your own, swept with pruning by archforge.

Nothing here uses archforge's networks, data or training loop: a two-layer perceptron on
scikit-learn's 8x8 digits, a plain `LightningModule`, a plain `@hydra.main`. The only
archforge line is `PruningCallback()` in the Trainer's callbacks; `conf/config.yaml`
selects `hydra/sweeper: archforge` and gives the search under `hydra.sweeper.search`.

    python examples/lightning_app/train.py                    # one run (the callback idles)
    python examples/lightning_app/train.py -m                 # the search, with pruning
    python examples/lightning_app/train.py -m hydra/launcher=submitit_local \\
        hydra.sweeper.search.n_workers=2                      # two jobs at a time
"""

from __future__ import annotations

import hydra
import lightning as L
import torch
from omegaconf import DictConfig
from sklearn.datasets import load_digits
from torch import nn
from torch.nn import functional as F
from torch.utils.data import DataLoader, TensorDataset

from archforge import PruningCallback


class DigitsMLP(L.LightningModule):
    def __init__(self, hidden: int, lr: float, momentum: float) -> None:
        super().__init__()
        self.save_hyperparameters()
        self.lr, self.momentum = lr, momentum
        self.net = nn.Sequential(nn.Linear(64, hidden), nn.ReLU(), nn.Linear(hidden, 10))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)

    def training_step(self, batch: tuple[torch.Tensor, torch.Tensor], _: int) -> torch.Tensor:
        x, y = batch
        loss = F.cross_entropy(self(x), y)
        self.log("train/loss", loss)
        return loss

    def validation_step(self, batch: tuple[torch.Tensor, torch.Tensor], _: int) -> None:
        x, y = batch
        logits = self(x)
        self.log("val/loss", F.cross_entropy(logits, y))
        self.log("val/acc", (logits.argmax(1) == y).float().mean())

    def configure_optimizers(self) -> torch.optim.Optimizer:
        return torch.optim.SGD(self.parameters(), lr=self.lr, momentum=self.momentum)


def loaders(batch_size: int, n_val: int) -> tuple[DataLoader, DataLoader]:
    x, y = load_digits(return_X_y=True)
    data = TensorDataset(torch.tensor(x / 16.0, dtype=torch.float32), torch.tensor(y))
    train, val = torch.utils.data.random_split(
        data, [len(data) - n_val, n_val], generator=torch.Generator().manual_seed(0))
    return (DataLoader(train, batch_size=batch_size, shuffle=True),
            DataLoader(val, batch_size=256))


@hydra.main(version_base="1.3", config_path="conf", config_name="config")
def main(cfg: DictConfig) -> float:
    L.seed_everything(cfg.seed, verbose=False)
    train, val = loaders(cfg.batch_size, cfg.n_val)
    trainer = L.Trainer(max_epochs=cfg.max_epochs, limit_train_batches=cfg.limit_train_batches,
                        callbacks=[PruningCallback()], logger=False,
                        enable_checkpointing=False, enable_progress_bar=False,
                        enable_model_summary=False, accelerator="cpu")
    trainer.fit(DigitsMLP(cfg.hidden, cfg.lr, cfg.momentum), train, val)
    acc = float(trainer.callback_metrics["val/acc"])
    print(f"val/acc {acc:.4f} after {trainer.current_epoch} epoch(s)")
    return acc


if __name__ == "__main__":
    main()
