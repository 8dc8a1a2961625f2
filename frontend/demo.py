"""Train a small MLP on the 8x8 handwritten digits shipped with llgrad.

    python -m llgrad.demo [--epochs 20] [--batch-size 32] [--lr 0.05] [--seed 0] [--compile]

The code is ordinary PyTorch-style training code; `--compile` runs each training step through
`llgrad.compile` (one traced, optimized graph per step shape, run as native code) instead of
eagerly, and then times a step both ways, side by side.
"""
import argparse
import math
import sys
import time

import numpy as np

import llgrad
from llgrad import nn
from llgrad.datasets import load_digits, train_test_split


def parse_args(argv=None):
    parser = argparse.ArgumentParser(prog="python -m llgrad.demo", description=__doc__.split("\n")[1])
    parser.add_argument("--epochs", type=int, default=20, help="passes over the training set "
                        "(default: %(default)s)")
    parser.add_argument("--batch-size", type=int, default=32, help="examples per training step "
                        "(default: %(default)s)")
    parser.add_argument("--lr", type=float, default=0.05, help="SGD learning rate "
                        "(default: %(default)s)")
    parser.add_argument("--momentum", type=float, default=0.9, help="SGD momentum "
                        "(default: %(default)s)")
    parser.add_argument("--hidden", type=int, default=128, help="hidden layer width "
                        "(default: %(default)s)")
    parser.add_argument("--seed", type=int, default=0, help="random seed "
                        "(default: %(default)s)")
    parser.add_argument("--compile", action="store_true", help="run the training step as "
                        "native code through llgrad.compile, then time a step eager and "
                        "compiled side by side")
    parser.add_argument("--quiet", action="store_true", help="no live progress line")
    args = parser.parse_args(argv)
    for name in ("epochs", "batch_size", "hidden"):
        if getattr(args, name) < 1:
            parser.error(f"--{name.replace('_', '-')} must be at least 1")
    if not (math.isfinite(args.lr) and args.lr > 0):
        parser.error(f"--lr must be a positive number, not {args.lr}")
    if not (math.isfinite(args.momentum) and 0 <= args.momentum < 1):
        parser.error(f"--momentum must be in [0, 1), not {args.momentum}")
    return args


def accuracy(model, x, y):
    with llgrad.no_grad():
        return (model(x).argmax(1) == y).float().mean().item()


def make_step(model, optimizer, loss_fn):
    def step(x, y):
        optimizer.zero_grad()
        loss = loss_fn(model(x), y)
        loss.backward()
        optimizer.step()
        return loss

    return step


def main(argv=None):
    args = parse_args(argv)
    llgrad.manual_seed(args.seed)
    images, labels = load_digits()
    train_idx, test_idx = train_test_split(len(labels), test_fraction=0.2, seed=args.seed)
    x_train, y_train = llgrad.from_numpy(images[train_idx]), llgrad.from_numpy(labels[train_idx])
    x_test, y_test = llgrad.from_numpy(images[test_idx]), llgrad.from_numpy(labels[test_idx])

    model = nn.Sequential(nn.Linear(64, args.hidden), nn.ReLU(), nn.Linear(args.hidden, 10))
    optimizer = llgrad.optim.SGD(model.parameters(), lr=args.lr, momentum=args.momentum)
    step = make_step(model, optimizer, nn.CrossEntropyLoss())
    if args.compile:
        step = llgrad.compile(step)

    mode = "compiled" if args.compile else "eager"
    print(f"llgrad {llgrad.__version__} ({mode}): MLP 64-{args.hidden}-10 on {len(train_idx)} "
          f"training / {len(test_idx)} held-out digits")
    rng = np.random.default_rng(args.seed)
    start = time.perf_counter()
    steps = 0
    for epoch in range(1, args.epochs + 1):
        order = rng.permutation(len(train_idx))
        epoch_start, total_loss, batches = time.perf_counter(), 0.0, 0
        for i in range(0, len(order), args.batch_size):
            idx = llgrad.from_numpy(order[i:i + args.batch_size])
            loss = step(x_train[idx], y_train[idx])
            total_loss += loss.item()
            batches += 1
            steps += 1
        rate = batches / (time.perf_counter() - epoch_start)
        line = (f"epoch {epoch:3d}/{args.epochs}  loss {total_loss / batches:.4f}  "
                f"train acc {accuracy(model, x_train, y_train):6.2%}  {rate:7.0f} steps/s")
        if not args.quiet:
            end = "\n" if epoch == args.epochs or not sys.stdout.isatty() else "\r"
            print(line, end=end, flush=True)
    elapsed = time.perf_counter() - start
    test_acc = accuracy(model, x_test, y_test)
    print(f"test accuracy {test_acc:.2%} on {len(test_idx)} held-out samples; "
          f"{steps} steps in {elapsed:.2f} s")
    if args.compile:
        stats = step.stats
        print(f"compiled: {stats['traces']} traces, {stats['compiles']} native compilations, "
              f"{stats['executions']['llvm']} native calls")
        eager_us, compiled_us = time_steps(args, x_train, y_train)
        print(f"step time (batch {args.batch_size}, median): eager {eager_us:.0f} us, "
              f"compiled {compiled_us:.0f} us ({eager_us / compiled_us:.1f}x faster)")
    return test_acc


def time_steps(args, x, y, rounds=7, steps=40):
    """Median time of one training step eager and compiled, on two identical fresh models,
    timed in alternating rounds so that machine noise hits both alike."""
    runs = {}
    for mode in ("eager", "compiled"):
        llgrad.manual_seed(args.seed)
        model = nn.Sequential(nn.Linear(64, args.hidden), nn.ReLU(), nn.Linear(args.hidden, 10))
        optimizer = llgrad.optim.SGD(model.parameters(), lr=args.lr, momentum=args.momentum)
        step = make_step(model, optimizer, nn.CrossEntropyLoss())
        runs[mode] = llgrad.compile(step) if mode == "compiled" else step
    xb, yb = x[:args.batch_size], y[:args.batch_size]
    times = {mode: [] for mode in runs}
    for _ in range(rounds):
        for mode, run in runs.items():
            run(xb, yb)  # warm
            start = time.perf_counter()
            for _ in range(steps):
                run(xb, yb)
            times[mode].append((time.perf_counter() - start) / steps * 1e6)
    return float(np.median(times["eager"])), float(np.median(times["compiled"]))


if __name__ == "__main__":
    main()
