"""An end-to-end training run (digits, MLP with LayerNorm/GELU/Dropout, AdamW, cosine schedule,
gradient clipping, label smoothing, randperm batches, eval under no_grad, save/load) in both
libraries after the same seed: the printed log must be identical."""
import pytest

import llgrad
from llgrad import datasets

torch = pytest.importorskip("torch")


def train(lib, path):
    nn = lib.nn
    images, labels = datasets.load_digits()
    X, y = lib.tensor(images), lib.tensor(labels)
    lib.manual_seed(0)
    model = nn.Sequential(nn.Linear(64, 64), nn.LayerNorm(64), nn.GELU(), nn.Dropout(0.1),
                          nn.Linear(64, 10))
    opt = lib.optim.AdamW(model.parameters(), lr=3e-3, weight_decay=0.01)
    sched = lib.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=12)
    criterion = nn.CrossEntropyLoss(label_smoothing=0.05)
    log = []
    for epoch in range(12):
        model.train()
        perm = lib.randperm(X.shape[0])
        for i in range(0, 1500, 100):
            idx = perm[i:i + 100]
            opt.zero_grad()
            loss = criterion(model(X[idx]), y[idx])
            loss.backward()
            nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            opt.step()
        sched.step()
        if epoch % 4 == 3:
            model.eval()
            with lib.no_grad():
                acc = (model(X[1500:]).argmax(1) == y[1500:]).float().mean()
            log.append(f"epoch {epoch}: loss {loss.item():.4f} acc {acc.item():.4f} "
                       f"lr {sched.get_last_lr()[0]:.6f}")
    log.append(repr(model))
    lib.save(model.state_dict(), path)
    log.append(repr(model.load_state_dict(lib.load(path, weights_only=True))))
    log.append(repr(loss))
    return "\n".join(log)


def test_digits_training_log_is_identical(tmp_path):
    assert train(llgrad, tmp_path / "ll.ckpt") == train(torch, tmp_path / "th.pt")
