"""The neural-network examples of the seed documents (/work/shared/seeds), run as written with
`import torch` and again with `import llgrad as torch`; the printed text must be identical.

The examples are copied from the documents (004 lost its line breaks in extraction; they are
restored here). 000's example has no seed in the document, so both runs get manual_seed(0);
004 draws its data with randn_like, so both runs seed it the same way.
"""
import subprocess
import sys
import textwrap

import pytest

pytest.importorskip("torch")

# 000, section 5: 神经网络中的自动求导（实战场景）
SEED_000_SIMPLENET = """
import torch
import torch.nn as nn
torch.manual_seed(0)

# 定义简单神经网络
class SimpleNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.linear = nn.Linear(1, 1)  # 线性层：y = wx + b

    def forward(self, x):
        return self.linear(x)

# 初始化模型、损失函数、优化器
model = SimpleNet()
criterion = nn.MSELoss()  # 均方误差损失
optimizer = torch.optim.SGD(model.parameters(), lr=0.01)

# 模拟数据
x = torch.tensor([[1.0], [2.0], [3.0]], requires_grad=False)
y_true = torch.tensor([[2.0], [4.0], [6.0]], requires_grad=False)

# 前向传播
y_pred = model(x)
loss = criterion(y_pred, y_true)

# 反向传播+优化
optimizer.zero_grad()  # 优化器梯度清零
loss.backward()  # 计算损失对模型参数的梯度
optimizer.step()  # 更新参数（使用梯度）

# 查看参数梯度
print("线性层权重梯度：", model.linear.weight.grad)
print("线性层偏置梯度：", model.linear.bias.grad)
"""

# 004, 示例 2: 神经网络训练一个回归任务 (y = 2x + 3)
SEED_004_REGRESSION = """
import torch
import torch.nn as nn
import torch.optim as optim
torch.manual_seed({seed})

# 构造数据
x = torch.linspace(-5, 5, 100).unsqueeze(1)  # shape [100,1]
y = 2 * x + 3 + 0.1 * torch.randn_like(x)    # 加点噪声

# 定义网络
model = nn.Sequential(nn.Linear(1, 10),nn.ReLU(),nn.Linear(10, 1)
)

# 损失函数 + 优化器
criterion = nn.MSELoss()
optimizer = optim.SGD(model.parameters(), lr=0.01)

# 训练
for epoch in range(200):
    optimizer.zero_grad()          # 清空梯度
    y_pred = model(x)              # 前向
    loss = criterion(y_pred, y)    # 计算loss
    loss.backward()                # 🔹 反向传播,计算梯度
    optimizer.step()                # 更新参数
    if epoch % 50 == 0:
        print(f"Epoch {{epoch}}, Loss = {{loss.item():.4f}}")
"""

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


def run(source):
    result = subprocess.run([sys.executable, "-c", textwrap.dedent(source)], capture_output=True,
                            text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    return result.stdout


def assert_same_output(source):
    expected = run(source)
    actual = run(as_llgrad(source))
    assert "llgrad" in as_llgrad(source)
    assert actual == expected
    return actual


def test_seed_000_simplenet_mse_sgd():
    out = assert_same_output(SEED_000_SIMPLENET)
    assert out.startswith("线性层权重梯度： tensor([[")


@pytest.mark.parametrize("seed", [0, 1, 42])
def test_seed_004_sequential_regression(seed):
    out = assert_same_output(SEED_004_REGRESSION.format(seed=seed))
    assert out.count("Epoch") == 4


def test_seed_001_optimizer_zero_grad():
    out = assert_same_output(SEED_001_ZERO_GRAD)
    assert out == ("Epoch 1: w.grad=-6.0, b.grad=-2.0\n"
                   "Epoch 2: w.grad=-6.0, b.grad=-2.0\n")
