"""The neural-network examples of the seed documents (/work/shared/seeds), run as written with
`import torch` and again with `import llgrad as torch`; the printed text must be identical.

Each example runs in a fresh interpreter (no state shared with other tests) and, where it draws
random numbers, under several seeds; the snippets themselves are test_seeds.py's.
"""
import subprocess
import sys
import textwrap

import pytest

pytest.importorskip("torch")

from test_seeds import S000_SIMPLE_NET, S004_EXAMPLE_2  # the documents' text, kept once


def seeded(source, seed):
    """`source` with `torch.manual_seed(seed)` right after its imports."""
    lines = source.splitlines(keepends=True)
    last_import = max(i for i, line in enumerate(lines) if line.startswith("import "))
    return "".join(lines[:last_import + 1] + [f"torch.manual_seed({seed})\n"] +
                   lines[last_import + 1:])


SEED_000_SIMPLENET = seeded(S000_SIMPLE_NET, 0)

# 001, 8.1 梯度累加和清零 (with the document's w, b, x, y_true)
SEED_001_ZERO_GRAD = """
import torch
x = torch.tensor(3.0)
w = torch.tensor(4.0, requires_grad=True)
b = torch.tensor(5.0, requires_grad=True)
y_true = torch.tensor(18.0) # 真实的目标值

optimizer = torch.optim.SGD([w, b], lr=0.01)

# 在训练循环中
for i in range(2):
    # 1. 将梯度清零
    optimizer.zero_grad()

    # 2. 前向传播
    y_pred = w * x + b
    loss = (y_pred - y_true)**2

    # 3. 反向传播
    loss.backward()

    print(f"Epoch {i+1}: w.grad={w.grad}, b.grad={b.grad}")
"""


def as_llgrad(source):
    """The same program with llgrad standing in for torch."""
    return (source.replace("import torch.nn as nn", "import llgrad.nn as nn")
                  .replace("import torch.optim as optim", "import llgrad.optim as optim")
                  .replace("import torch\n", "import llgrad as torch\n"))


def start(source):
    return subprocess.Popen([sys.executable, "-c", textwrap.dedent(source)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def finish(process):
    stdout, stderr = process.communicate(timeout=300)
    assert process.returncode == 0, stderr
    return stdout


def assert_same_output(source):
    """Run the example with torch and with llgrad, at once (most of each run is the import)."""
    assert "llgrad" in as_llgrad(source)
    with_torch, with_llgrad = start(source), start(as_llgrad(source))
    try:
        expected, actual = finish(with_torch), finish(with_llgrad)
    finally:
        for process in (with_torch, with_llgrad):
            if process.poll() is None:
                process.kill()
                process.communicate()
    assert actual == expected
    return actual


def test_seed_000_simplenet_mse_sgd():
    out = assert_same_output(SEED_000_SIMPLENET)
    assert out.startswith("线性层权重梯度： tensor([[")


@pytest.mark.parametrize("seed", [0, 1, 42])
def test_seed_004_sequential_regression(seed):
    out = assert_same_output(seeded(S004_EXAMPLE_2, seed))
    assert out.count("Epoch") == 4


def test_seed_001_optimizer_zero_grad():
    out = assert_same_output(SEED_001_ZERO_GRAD)
    assert out == ("Epoch 1: w.grad=-6.0, b.grad=-2.0\n"
                   "Epoch 2: w.grad=-6.0, b.grad=-2.0\n")
