"""nn.Module semantics against PyTorch: registration, traversal, reprs, state dicts and their
error messages, hooks, modes, conversion. Each scenario runs the same code on both libraries
and compares what it prints (with "torch" spelled "llgrad")."""
import copy
import warnings

import numpy as np
import pytest

import llgrad

torch = pytest.importorskip("torch")


def same(fn):
    """fn(lib) returns something printable; both libraries must print the same."""
    ll = fn(llgrad)
    th = fn(torch)
    assert str(ll) == str(th).replace("torch", "llgrad")
    return ll


def net(lib):
    nn = lib.nn

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.features = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Dropout(0.1))
            self.heads = nn.ModuleList([nn.Linear(8, 2), nn.Linear(8, 2), nn.Linear(8, 3)])
            self.norm = nn.LayerNorm(8)
            self.register_buffer("running", lib.zeros(3))
            self.register_buffer("scratch", lib.ones(2), persistent=False)
            self.scale = nn.Parameter(lib.ones(1))
            self.table = nn.ModuleDict({"emb": nn.Embedding(10, 4), "act": nn.GELU()})

        def forward(self, x):
            h = self.norm(self.features(x))
            return [head(h) for head in self.heads]

    lib.manual_seed(0)
    return Net()


def test_repr_matches_torch():
    same(lambda lib: net(lib))
    same(lambda lib: lib.nn.Sequential(lib.nn.Linear(1, 10), lib.nn.ReLU(), lib.nn.Linear(10, 1)))
    same(lambda lib: lib.nn.Sequential())
    same(lambda lib: lib.nn.ModuleList())
    same(lambda lib: lib.nn.ModuleList([lib.nn.ReLU()] * 3 + [lib.nn.Tanh(), lib.nn.Tanh()]))
    same(lambda lib: lib.nn.Sequential(lib.nn.Sequential(lib.nn.Linear(2, 2)), lib.nn.Softmax(1)))
    same(lambda lib: lib.nn.ParameterList([lib.nn.Parameter(lib.ones(2, 3)), lib.ones(4)]))
    same(lambda lib: [repr(m) for m in (lib.nn.LeakyReLU(0.2, inplace=True), lib.nn.ELU(0.5),
                                        lib.nn.ReLU(inplace=True), lib.nn.Identity(),
                                        lib.nn.Flatten(0), lib.nn.Unflatten(1, (2, 3)),
                                        lib.nn.Hardtanh(), lib.nn.ReLU6(), lib.nn.Softplus(),
                                        lib.nn.LogSoftmax(), lib.nn.Softmin(1), lib.nn.SiLU(),
                                        lib.nn.LayerNorm([2, 3], elementwise_affine=False),
                                        lib.nn.Embedding(5, 2, padding_idx=0, max_norm=1.0,
                                                         norm_type=1.0, scale_grad_by_freq=True),
                                        lib.nn.GELU("tanh"), lib.nn.Linear(3, 4, bias=False))])

    class WithExtra(llgrad.nn.Module):
        def extra_repr(self):
            return "line one\nline two"

    assert repr(WithExtra()) == "WithExtra(\n  line one\n  line two\n)"


def test_traversal_matches_torch():
    same(lambda lib: [n for n, _ in net(lib).named_parameters()])
    same(lambda lib: [tuple(p.shape) for p in net(lib).parameters()])
    same(lambda lib: [n for n, _ in net(lib).named_buffers()])
    same(lambda lib: [n for n, _ in net(lib).named_children()])
    same(lambda lib: [n for n, _ in net(lib).named_modules()])
    same(lambda lib: [type(m).__name__ for m in net(lib).modules()])
    same(lambda lib: [type(m).__name__ for m in net(lib).children()])
    same(lambda lib: [n for n, _ in net(lib).named_parameters(prefix="model", recurse=False)])
    same(lambda lib: list(net(lib).state_dict().keys()))
    same(lambda lib: net(lib).state_dict()._metadata)
    same(lambda lib: net(lib).get_submodule("features.0"))
    same(lambda lib: net(lib).get_parameter("heads.2.bias").shape)
    same(lambda lib: net(lib).get_buffer("running"))


def test_shared_modules_and_parameters_are_visited_once():
    def build(lib):
        shared = lib.nn.Linear(2, 2)
        seq = lib.nn.Sequential(shared, lib.nn.ReLU(), shared)
        return ([n for n, _ in seq.named_parameters()],
                [n for n, _ in seq.named_modules()],
                [n for n, _ in seq.named_modules(remove_duplicate=False)],
                list(seq.state_dict()))

    same(build)


def test_state_dict_values_are_detached_and_share_storage():
    model = llgrad.nn.Linear(3, 2)
    sd = model.state_dict()
    assert type(sd).__name__ == "OrderedDict"
    assert not sd["weight"].requires_grad and type(sd["weight"]) is llgrad.Tensor
    with llgrad.no_grad():
        model.weight[0, 0] = 42.0
    assert sd["weight"][0, 0].item() == 42.0
    kept = model.state_dict(keep_vars=True)
    assert kept["weight"] is model.weight


def test_load_state_dict_roundtrip_and_messages():
    def run(lib):
        lib.manual_seed(0)
        a = lib.nn.Sequential(lib.nn.Linear(2, 3), lib.nn.ReLU(), lib.nn.Linear(3, 1))
        lib.manual_seed(1)
        b = lib.nn.Sequential(lib.nn.Linear(2, 3), lib.nn.ReLU(), lib.nn.Linear(3, 1))
        result = b.load_state_dict(a.state_dict())
        equal = all(bool((x == y).all()) for x, y in zip(a.parameters(), b.parameters()))
        return str(result), equal, str(b.load_state_dict({}, strict=False))

    assert same(run)[0] == "<All keys matched successfully>"

    def errors(lib):
        model = lib.nn.Sequential(lib.nn.Linear(2, 3), lib.nn.Linear(3, 1))
        messages = []
        bad = dict(model.state_dict())
        del bad["0.bias"]
        bad["extra"] = lib.zeros(1)
        bad["1.weight"] = lib.zeros(2, 2)
        bad["0.foo"] = lib.zeros(1)
        for state, strict in ((bad, True), (bad, False), ({"0.weight": 3}, False)):
            try:
                messages.append(repr(model.load_state_dict(state, strict=strict)))
            except RuntimeError as error:
                messages.append(str(error))
        return "\n".join(messages)

    same(errors)


def test_load_state_dict_assign_and_scalar_shapes():
    for lib in (llgrad, torch):
        model = lib.nn.Linear(2, 2)
        new_weight = lib.ones(2, 2)
        model.load_state_dict({"weight": new_weight, "bias": lib.zeros(2)}, assign=True)
        assert isinstance(model.weight, lib.nn.Parameter) and model.weight.requires_grad
        assert model.weight.tolist() == [[1.0, 1.0], [1.0, 1.0]]

    class Scalar(llgrad.nn.Module):
        def __init__(self):
            super().__init__()
            self.s = llgrad.nn.Parameter(llgrad.tensor(1.0))

    m = Scalar()
    m.load_state_dict({"s": llgrad.tensor([5.0])})  # PyTorch accepts a 1-element tensor for 0-d
    assert m.s.item() == 5.0


def test_setattr_registration_rules():
    def run(lib):
        nn = lib.nn
        out = []
        m = nn.Module()
        m.p = nn.Parameter(lib.ones(2))
        m.child = nn.Linear(1, 1)
        m.register_buffer("buf", lib.zeros(1))
        m.plain = lib.ones(1)  # plain tensor attribute: not registered
        out.append((list(m._parameters), list(m._modules), list(m._buffers)))
        m.buf = lib.ones(3)  # stays a buffer
        out.append(m.buf.tolist())
        m.p = None
        out.append(list(m._parameters.items()))
        for action in (lambda: setattr(m, "p", lib.ones(1)),
                       lambda: setattr(m, "child", 3),
                       lambda: m.register_parameter("p.q", None),
                       lambda: m.register_parameter("child", None),
                       lambda: m.register_buffer("plain", None),
                       lambda: m.register_buffer("x", 3),
                       lambda: m.register_parameter("w", lib.ones(1)),
                       lambda: m.add_module("bad", 3),
                       lambda: m.add_module("a.b", nn.ReLU()),
                       lambda: m.register_parameter("w", nn.Parameter(lib.ones(1)) * 2),
                       lambda: m.missing):
            try:
                action()
                out.append("ok")
            except Exception as error:  # noqa: BLE001 - the message is what we compare
                out.append(f"{type(error).__name__}: {error}")
        m.child = None
        out.append(list(m._modules.items()))
        del m.buf
        del m.child
        out.append((list(m._buffers), list(m._modules), hasattr(m, "plain")))
        m.other = nn.Parameter(lib.zeros(1))
        try:
            m.other = nn.Linear(1, 1)  # a parameter's name only takes Parameters (or None)
        except TypeError as error:
            out.append(str(error))
        m.mod = nn.Linear(1, 1)
        m.mod = nn.Parameter(lib.zeros(1))  # a module's name may become a parameter
        out.append((list(m._parameters), list(m._modules)))
        return "\n".join(map(str, out))

    same(run)

    class Early(llgrad.nn.Module):
        def __init__(self):
            self.w = llgrad.nn.Parameter(llgrad.ones(1))

    with pytest.raises(AttributeError, match="cannot assign parameters before Module.__init__"):
        Early()


def test_dir_lists_registered_names():
    model = net(llgrad)
    names = dir(model)
    for name in ("features", "heads", "scale", "running", "forward", "training"):
        assert name in names
    assert dir(llgrad.nn.Sequential(llgrad.nn.ReLU())) == sorted(
        n for n in dir(llgrad.nn.Sequential(llgrad.nn.ReLU())) if not n.isdigit())
    torch_names = set(dir(net(torch)))
    for name in ("features", "heads", "scale", "running", "table", "norm"):
        assert name in torch_names


def test_train_eval_zero_grad_requires_grad():
    def run(lib):
        model = net(lib)
        out = [model.training]
        model.eval()
        out.append([m.training for m in model.modules()])
        model.train()
        out.append(all(m.training for m in model.modules()))
        y = model(lib.ones(5, 4))
        sum(t.sum() for t in y).backward()
        out.append(sorted(n for n, p in model.named_parameters() if p.grad is not None))
        model.zero_grad(set_to_none=False)
        out.append(all(p.grad is None or not bool(p.grad.any()) for p in model.parameters()))
        model.zero_grad()
        out.append([p.grad for p in model.parameters()][:2])
        model.requires_grad_(False)
        out.append(any(p.requires_grad for p in model.parameters()))
        try:
            model.train("yes")
        except ValueError as error:
            out.append(str(error))
        return out

    same(run)


def test_forward_hooks():
    def run(lib):
        calls = []
        lin = lib.nn.Linear(2, 2, bias=False)
        with lib.no_grad():
            lin.weight.copy_(lib.eye(2))

        def pre(module, args):
            calls.append(("pre", type(module).__name__, len(args)))
            return (args[0] * 2,)

        def post(module, args, output):
            calls.append(("post", output.tolist()))
            return output + 1

        def pre_kwargs(module, args, kwargs):
            calls.append(("prekw", sorted(kwargs)))

        h1 = lin.register_forward_pre_hook(pre)
        h2 = lin.register_forward_hook(post)
        h3 = lin.register_forward_pre_hook(pre_kwargs, with_kwargs=True)
        out1 = lin(lib.ones(1, 2)).tolist()
        h1.remove()
        h2.remove()
        h3.remove()
        out2 = lin(lib.ones(1, 2)).tolist()
        return calls, out1, out2

    same(run)


def test_apply_and_dtype_conversion():
    def run(lib):
        model = lib.nn.Sequential(lib.nn.Linear(2, 2), lib.nn.LayerNorm(2))
        names = []
        model.apply(lambda m: names.append(type(m).__name__))
        w = model[0].weight
        model(lib.ones(1, 2)).sum().backward()
        model.double()
        out = [names, model[0].weight is w, str(model[0].weight.dtype), str(w.grad.dtype)]
        model.to(lib.float32)
        out.append(str(model[1].bias.dtype))
        out.append(str(model(lib.ones(1, 2)).dtype))
        try:
            model.to(lib.int64)
        except TypeError as error:
            out.append(str(error))
        out.append(model.float() is model)
        out.append(model.cpu() is model)
        return out

    same(run)


def test_deepcopy_and_sequential_ops():
    def run(lib):
        nn = lib.nn
        seq = nn.Sequential(nn.Linear(2, 3), nn.ReLU(), nn.Linear(3, 1))
        clone = copy.deepcopy(seq)
        out = [repr(clone), clone[0].weight is not seq[0].weight,
               bool((clone[0].weight == seq[0].weight).all()), len(seq), repr(seq[1:]),
               repr(seq[-1]), [type(m).__name__ for m in seq]]
        seq.append(nn.Tanh())
        seq.insert(0, nn.Identity())
        del seq[1]
        out.append(repr(seq))
        out.append(repr(seq + nn.Sequential(nn.ReLU())))
        try:
            seq[10]
        except IndexError as error:
            out.append(str(error))
        ml = nn.ModuleList([nn.ReLU()])
        ml.append(nn.Tanh())
        ml.extend([nn.Sigmoid()])
        ml.insert(1, nn.GELU())
        out.append(repr(ml))
        out.append(repr(ml[1:]))
        md = nn.ModuleDict({"b": nn.ReLU(), "a": nn.Tanh()})
        md["c"] = nn.Linear(1, 1)
        out.append((list(md.keys()), "a" in md, len(md), repr(md)))
        md.pop("b")
        out.append(repr(md))
        return out

    same(run)


def test_module_without_forward_and_call_super_init():
    with pytest.raises(NotImplementedError, match=r'Module \[Module\] is missing the required '
                                                  r'"forward" function'):
        llgrad.nn.Module()(1)
    with pytest.raises(TypeError, match="takes 1 positional argument but 2 were given"):
        llgrad.nn.Module(3)


def test_seeded_model_is_bit_identical_to_torch():
    a = net(llgrad)
    b = net(torch)
    for (ka, va), (kb, vb) in zip(a.state_dict().items(), b.state_dict().items()):
        assert ka == kb
        assert np.array_equal(va.numpy(), vb.numpy()), ka
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        a.eval()
        b.eval()
    x = np.random.default_rng(0).standard_normal((5, 4)).astype(np.float32)
    for oa, ob in zip(a(llgrad.tensor(x)), b(torch.tensor(x))):
        np.testing.assert_allclose(oa.detach().numpy(), ob.detach().numpy(), rtol=1e-5, atol=1e-6)
