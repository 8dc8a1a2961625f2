"""llgrad.compile's PyTorch-facing surface: the compiled module and torch.compile's keywords."""
import pytest

import llgrad


def test_compiled_module_behaves_like_pytorchs():
    model = llgrad.nn.Linear(2, 3)
    compiled = llgrad.compile(model)
    assert isinstance(compiled, llgrad.nn.Module)
    assert list(compiled.state_dict()) == ["_orig_mod.weight", "_orig_mod.bias"]
    assert [n for n, _ in compiled.named_parameters()] == ["_orig_mod.weight", "_orig_mod.bias"]
    assert compiled.weight is model.weight and compiled.in_features == 2
    assert repr(compiled) == ("OptimizedModule(\n  (_orig_mod): Linear(in_features=2, "
                              "out_features=3, bias=True)\n)")
    compiled.eval()
    assert not model.training
    out = compiled(llgrad.ones(4, 2))
    assert out.shape == (4, 3) and compiled.stats["calls"] == 1


def test_compiled_module_matches_torch_surface():
    torch = pytest.importorskip("torch")
    ours, theirs = llgrad.compile(llgrad.nn.Linear(2, 3)), torch.compile(torch.nn.Linear(2, 3))
    assert list(ours.state_dict()) == list(theirs.state_dict())
    assert repr(ours) == repr(theirs)


def test_pytorch_keywords_are_accepted_with_their_meaning():
    f = llgrad.compile(lambda x: x * 2, fullgraph=True, dynamic=False, mode="reduce-overhead",
                       backend="inductor", recompile_limit=3)
    assert f(llgrad.ones(2)).tolist() == [2.0, 2.0]
    assert f.backend == "llvm" and f.max_specializations == 3
    assert llgrad.compile(lambda x: x, backend="eager").backend == "interp"
    g = lambda x: x  # noqa: E731
    assert llgrad.compile(g, disable=True) is g


@pytest.mark.parametrize("kwargs, error, text", [
    ({"mode": "fastest"}, RuntimeError, "Unrecognized mode=fastest"),
    ({"dynamic": True}, ValueError, r"dynamic=True\) is not supported"),
    ({"options": {"trace.enabled": True}}, ValueError, "has no options"),
    ({"backend": "gpu"}, ValueError, "unknown llgrad.compile backend 'gpu'"),
])
def test_unsupported_values_are_refused_not_ignored(kwargs, error, text):
    with pytest.raises(error, match=text):
        llgrad.compile(lambda x: x, **kwargs)


def test_help_explains_the_compiler():
    doc = llgrad.compile.__doc__
    for topic in ("Back ends", "Guards", "max_specializations", "stats", "explain",
                  "fullgraph=True"):
        assert topic in doc
