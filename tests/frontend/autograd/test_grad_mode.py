"""Grad modes: no_grad, enable_grad, set_grad_enabled and inference_mode as context managers and
as decorators (with and without parentheses, on functions and generators), nested, and restored
after exceptions."""
import pytest

import llgrad

from .harness import Scenarios, assert_same_as_torch

SCENARIOS = Scenarios()


@SCENARIOS
def no_grad_and_enable_grad_nest(torch):
    x = torch.tensor([1.0, 2.0], requires_grad=True)
    with torch.no_grad():
        y = x * 2
        print(y.requires_grad, y.grad_fn, torch.is_grad_enabled())
        with torch.enable_grad():
            print((x * 2).requires_grad, torch.is_grad_enabled())
            with torch.no_grad():
                print((x * 2).requires_grad)
            print(torch.is_grad_enabled())
        print(torch.is_grad_enabled())
    print(torch.is_grad_enabled(), (x * 2).requires_grad)


@SCENARIOS
def leaves_created_under_no_grad(torch):
    with torch.no_grad():
        w = torch.ones(2, requires_grad=True)
        v = torch.zeros(2).requires_grad_()
        print(w, v, w.is_leaf, (w * 2).requires_grad)
    (w * 3).sum().backward()
    print(w.grad)


@SCENARIOS
def set_grad_enabled_as_call_and_context(torch):
    x = torch.tensor([1.0], requires_grad=True)
    with torch.set_grad_enabled(False):
        print((x * 2).requires_grad, torch.is_grad_enabled())
        with torch.set_grad_enabled(True):
            print((x * 2).requires_grad)
    print(torch.is_grad_enabled())
    torch.set_grad_enabled(False)
    print(torch.is_grad_enabled(), (x * 2).requires_grad)
    torch.set_grad_enabled(True)
    print(torch.is_grad_enabled())
    for mode in (True, False):
        with torch.set_grad_enabled(mode):
            print(mode, (x * 2).requires_grad)


@SCENARIOS
def decorators_with_and_without_parentheses(torch):
    x = torch.tensor([1.0, 2.0], requires_grad=True)

    @torch.no_grad
    def bare():
        return x * 2

    @torch.no_grad()
    def called():
        return x * 2

    @torch.enable_grad
    def enabled_bare():
        return x * 2

    @torch.enable_grad()
    def enabled_called():
        return x * 2

    @torch.set_grad_enabled(False)
    def disabled():
        return x * 2

    @torch.inference_mode
    def inference_bare():
        return x * 2

    @torch.inference_mode()
    def inference_called():
        return x * 2

    @torch.inference_mode(False)
    def inference_off():
        return x * 2

    print(torch.is_grad_enabled())  # decorating did not change the mode
    print(bare().requires_grad, called().requires_grad, disabled().requires_grad,
          inference_bare().requires_grad, inference_called().requires_grad)
    with torch.no_grad():
        print(enabled_bare().requires_grad, enabled_called().requires_grad,
              inference_off().requires_grad, torch.is_grad_enabled())
    print(torch.is_grad_enabled())
    print(bare.__name__, called.__name__, disabled.__name__, inference_bare.__name__)


@SCENARIOS
def decorated_methods_and_arguments(torch):
    class Model:
        def __init__(self):
            self.w = torch.tensor([2.0], requires_grad=True)

        @torch.no_grad()
        def predict(self, x, scale=1.0):
            """Doc kept."""
            return self.w * x * scale

    m = Model()
    y = m.predict(torch.tensor([3.0]), scale=2.0)
    print(y, y.requires_grad, Model.predict.__doc__)


@SCENARIOS
def decorated_generators(torch):
    x = torch.tensor([1.0, 2.0], requires_grad=True)

    @torch.no_grad()
    def gen():
        for i in range(2):
            received = yield (x * i).requires_grad, torch.is_grad_enabled()
            print("received", received, torch.is_grad_enabled())

    g = gen()
    print(next(g), torch.is_grad_enabled())
    print(g.send("hello"), torch.is_grad_enabled())
    for v in gen():
        print(v, torch.is_grad_enabled())

    @torch.enable_grad()
    def gen_enabled():
        yield (x * 2).requires_grad

    with torch.no_grad():
        print(list(gen_enabled()), torch.is_grad_enabled())


@SCENARIOS
def modes_are_restored_after_exceptions(torch):
    for make in (torch.no_grad, torch.enable_grad, lambda: torch.set_grad_enabled(False),
                 torch.inference_mode):
        try:
            with make():
                raise ValueError("inside")
        except ValueError:
            pass
        print(torch.is_grad_enabled(), torch.is_inference_mode_enabled())

    @torch.no_grad()
    def fails():
        raise KeyError("k")

    try:
        fails()
    except KeyError:
        pass
    print(torch.is_grad_enabled())


@SCENARIOS
def inference_mode(torch):
    x = torch.tensor([1.0, 2.0], requires_grad=True)
    with torch.inference_mode():
        y = x * 2
        print(y.requires_grad, torch.is_grad_enabled(), torch.is_inference_mode_enabled())
        with torch.inference_mode(False):
            print(torch.is_grad_enabled(), torch.is_inference_mode_enabled())
        with torch.enable_grad():
            print(torch.is_grad_enabled(), torch.is_inference_mode_enabled())
        print(torch.is_grad_enabled(), torch.is_inference_mode_enabled())
    print(torch.is_grad_enabled(), torch.is_inference_mode_enabled())
    with torch.no_grad():
        with torch.inference_mode(False):
            print((x * 2).requires_grad)


@SCENARIOS
def context_manager_objects_are_reusable(torch):
    x = torch.tensor([1.0], requires_grad=True)
    ctx = torch.no_grad()
    print(ctx.__enter__())
    print((x * 2).requires_grad)
    ctx.__exit__(None, None, None)
    for _ in range(2):
        with ctx:
            print((x * 2).requires_grad)
    print(torch.is_grad_enabled())


@SCENARIOS
def grad_mode_does_not_affect_backward_of_recorded_graph(torch):
    x = torch.tensor([1.0, 2.0], requires_grad=True)
    y = (x * x).sum()
    with torch.no_grad():
        y.backward()
    print(x.grad)
    z = (x ** 3).sum()
    with torch.no_grad():
        (g,) = torch.autograd.grad(z, x, create_graph=True)
    print(g, g.requires_grad)


@pytest.mark.parametrize("scenario", SCENARIOS.params())
def test_matches_torch(scenario, torch):
    assert_same_as_torch(scenario, torch)


# ---- without PyTorch -----------------------------------------------------------------------------

def test_no_grad_records_nothing_and_restores():
    x = llgrad.tensor([1.0], requires_grad=True)
    with llgrad.no_grad():
        assert not (x * 2).requires_grad
        with llgrad.enable_grad():
            assert (x * 2).requires_grad
    assert llgrad.is_grad_enabled()


@pytest.mark.parametrize("make_decorator", [
    lambda: llgrad.no_grad, lambda: llgrad.no_grad(), lambda: llgrad.inference_mode,
    lambda: llgrad.inference_mode(), lambda: llgrad.set_grad_enabled(False)])
def test_decorators(make_decorator):
    x = llgrad.tensor([1.0], requires_grad=True)

    @make_decorator()  # set_grad_enabled(False) switches the mode at once, until it decorates
    def f(scale):
        return x * scale

    assert llgrad.is_grad_enabled()
    assert not f(2.0).requires_grad
    assert llgrad.is_grad_enabled()


def test_decorated_generator_switches_mode_around_each_step():
    @llgrad.no_grad()
    def gen():
        yield llgrad.is_grad_enabled()
        yield llgrad.is_grad_enabled()

    g = gen()
    assert next(g) is False and llgrad.is_grad_enabled()
    assert next(g) is False and llgrad.is_grad_enabled()


def test_inference_mode_false_enables_grad():
    with llgrad.inference_mode():
        with llgrad.inference_mode(False):
            assert llgrad.is_grad_enabled() and not llgrad.is_inference_mode_enabled()
        assert not llgrad.is_grad_enabled() and llgrad.is_inference_mode_enabled()


def test_grad_mode_is_per_thread_like_torch(torch):
    """A thread starts with grad enabled whatever mode the thread that started it is in, and
    its own mode changes are invisible to other threads."""
    import threading

    for lib in (llgrad, torch):
        seen = {}
        inside = threading.Event()
        leave = threading.Event()

        def worker():
            x = lib.ones(1, requires_grad=True)
            seen["starts_enabled"] = lib.is_grad_enabled() and (x * 2).requires_grad
            with lib.no_grad():
                inside.set()
                leave.wait(5)
                seen["own_no_grad"] = not (x * 2).requires_grad

        with lib.no_grad():
            thread = threading.Thread(target=worker)
            thread.start()
            inside.wait(5)
        # The worker is inside its no_grad; this thread left its own.
        seen["main_enabled"] = lib.is_grad_enabled()
        leave.set()
        thread.join()
        assert seen == {"starts_enabled": True, "main_enabled": True, "own_no_grad": True}, lib
