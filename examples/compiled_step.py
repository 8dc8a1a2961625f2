"""A training step compiled to native code with llgrad.compile.

    python examples/compiled_step.py [--steps 200]

The step is ordinary eager code (forward, loss, backward, optimizer step); llgrad.compile traces
it once per argument shape and then runs it as one native call. The compiled and the eager model
start from the same weights and end at the same loss.
"""
from __future__ import annotations

import argparse
from collections.abc import Callable

import llgrad
from llgrad import nn


def make_model(seed: int) -> nn.Sequential:
    llgrad.manual_seed(seed)
    return nn.Sequential(nn.Linear(8, 32), nn.Tanh(), nn.Linear(32, 1))


def make_step(model: nn.Module, optimizer: llgrad.optim.Optimizer
              ) -> Callable[[llgrad.Tensor, llgrad.Tensor], llgrad.Tensor]:
    loss_fn = nn.MSELoss()

    def step(x: llgrad.Tensor, y: llgrad.Tensor) -> llgrad.Tensor:
        optimizer.zero_grad()
        loss: llgrad.Tensor = loss_fn(model(x), y)
        loss.backward()
        optimizer.step()
        return loss

    return step


def main(steps: int = 200) -> None:
    generator = llgrad.Generator().manual_seed(1)
    x = llgrad.randn(64, 8, generator=generator)
    y = (x[:, :4].sum(dim=1, keepdim=True) - x[:, 4:].pow(2).mean(1, keepdim=True)).tanh()

    eager_model, compiled_model = make_model(0), make_model(0)
    eager = make_step(eager_model, llgrad.optim.SGD(eager_model.parameters(), lr=0.1,
                                                     momentum=0.9))
    compiled = llgrad.compile(make_step(compiled_model, llgrad.optim.SGD(
        compiled_model.parameters(), lr=0.1, momentum=0.9)))

    for i in range(steps):
        eager_loss, compiled_loss = eager(x, y), compiled(x, y)
        if i % 50 == 0 or i == steps - 1:
            print(f"step {i:4d}  eager loss {eager_loss.item():.6f}  "
                  f"compiled loss {compiled_loss.item():.6f}")
    assert llgrad.allclose(eager_loss, compiled_loss, rtol=1e-4, atol=1e-6)
    stats = compiled.stats
    print(f"{stats['traces']} trace(s), {stats['calls']} calls")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0] if __doc__ else None)
    parser.add_argument("--steps", type=int, default=200, help="training steps")
    main(parser.parse_args().steps)
