"""Train a small classifier on the 8x8 digits shipped with llgrad, eagerly, PyTorch style.

    python examples/train_digits.py [--epochs 5]

An nn.Module subclass, a DataLoader over a TensorDataset, Adam with a learning-rate schedule,
gradient clipping, evaluation under no_grad, and a checkpoint saved and loaded back.
"""
from __future__ import annotations

import argparse
import os
import tempfile

import llgrad as torch
from llgrad import nn
from llgrad.datasets import load_digits, train_test_split
from llgrad.nn import functional as F
from llgrad.utils.data import DataLoader, TensorDataset


class Classifier(nn.Module):
    def __init__(self, hidden: int = 64) -> None:
        super().__init__()
        self.hidden = nn.Linear(64, hidden)
        self.norm = nn.LayerNorm(hidden)
        self.dropout = nn.Dropout(0.1)
        self.out = nn.Linear(hidden, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.dropout(F.relu(self.norm(self.hidden(x))))
        logits: torch.Tensor = self.out(h)
        return logits


def accuracy(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> float:
    model.eval()
    with torch.no_grad():
        predicted: torch.Tensor = model(x).argmax(dim=1)
    model.train()
    return (predicted == y).float().mean().item()


def main(epochs: int = 5, seed: int = 0) -> float:
    torch.manual_seed(seed)
    images, labels = load_digits()
    train_idx, test_idx = train_test_split(len(labels), test_fraction=0.2, seed=seed)
    x_train = torch.from_numpy(images[train_idx])
    y_train = torch.from_numpy(labels[train_idx])
    x_test = torch.tensor(images[test_idx], dtype=torch.float32)
    y_test = torch.tensor(labels[test_idx])

    model = Classifier()
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2, weight_decay=1e-4)
    scheduler = torch.optim.lr_scheduler.StepLR(optimizer, step_size=2, gamma=0.5)
    loader = DataLoader(TensorDataset(x_train, y_train), batch_size=64, shuffle=True)

    for epoch in range(epochs):
        total = 0.0
        for xb, yb in loader:
            optimizer.zero_grad()
            loss = F.cross_entropy(model(xb), yb, label_smoothing=0.05)
            loss.backward()
            nn.utils.clip_grad_norm_(model.parameters(), max_norm=5.0)
            optimizer.step()
            total += loss.item() * xb.shape[0]
        scheduler.step()
        print(f"epoch {epoch + 1}: loss {total / len(train_idx):.4f}  "
              f"lr {scheduler.get_last_lr()[0]:.4g}")

    test_accuracy = accuracy(model, x_test, y_test)
    print(f"test accuracy {test_accuracy:.2%}")

    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, "classifier.pt")
        torch.save({"model": model.state_dict(), "optimizer": optimizer.state_dict()}, path)
        checkpoint = torch.load(path)
    restored = Classifier()
    restored.load_state_dict(checkpoint["model"])
    assert accuracy(restored, x_test, y_test) == test_accuracy
    return test_accuracy


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0] if __doc__ else None)
    parser.add_argument("--epochs", type=int, default=5, help="passes over the training set")
    main(parser.parse_args().epochs)
