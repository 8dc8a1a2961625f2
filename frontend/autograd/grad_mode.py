"""Whether operations record autograd history: `no_grad`, `enable_grad`, `set_grad_enabled`,
`inference_mode`, each usable as a context manager and as a decorator."""
from __future__ import annotations

import functools
import inspect
import threading
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Literal, TypeVar

    _C = TypeVar("_C", bound="_GradModeContext")
    _F = TypeVar("_F", bound=Callable[..., Any])


class _GradState(threading.local):
    """Grad mode is per thread, as in PyTorch: a new thread starts with the class defaults
    (grad enabled), whatever mode the thread that started it is in."""

    enabled = True
    inference = False


STATE = _GradState()


def is_grad_enabled() -> bool:
    """Whether operations are being recorded for autograd in this thread (see no_grad)."""
    return STATE.enabled


def is_inference_mode_enabled() -> bool:
    """Whether inference_mode is on in this thread."""
    return STATE.inference


class _GradModeContext:
    """Base for the context managers: subclasses set `_target()`; usable as `@ctx`, `@ctx()`."""

    def __new__(cls: type[_C], func: Any = None, *args: Any, **kwargs: Any) -> _C:
        # `@no_grad` without parentheses: PyTorch accepts it, so do we (it returns the wrapped
        # function, which the annotation, like PyTorch's, leaves out: write `@no_grad()`).
        if callable(func) and not args and not kwargs and cls is not set_grad_enabled:
            return cls()(func)
        return super().__new__(cls)

    def __call__(self, func: _F) -> _F:
        if inspect.isgeneratorfunction(func):
            return _wrap_generator(self.clone, func)

        @functools.wraps(func)
        def wrapper(*args, **kwargs):
            with self.clone():
                return func(*args, **kwargs)

        return wrapper  # type: ignore[return-value]

    def _ctor_args(self):
        return ()

    def __enter__(self) -> None:
        self._saved = (STATE.enabled, STATE.inference)
        self._apply()
        return None

    def __exit__(self, *exc: object) -> Literal[False]:
        STATE.enabled, STATE.inference = self._saved
        return False

    def clone(self: _C) -> _C:
        """A fresh context manager with the same settings."""
        return self.__class__(*self._ctor_args())


class no_grad(_GradModeContext):
    """Context manager and decorator (`with llgrad.no_grad():`, `@llgrad.no_grad()`) under
    which operations are not recorded for autograd: results do not require grad, and no memory
    is kept for a backward. As torch.no_grad; grad mode is per thread. Inside llgrad.compile it
    cuts gradients in the traced step exactly as eagerly."""

    def _apply(self):
        STATE.enabled = False


class enable_grad(_GradModeContext):
    """Context manager and decorator that turns recording back on inside no_grad, as
    torch.enable_grad."""

    def _apply(self):
        STATE.enabled = True


class set_grad_enabled(_GradModeContext):
    """Sets grad mode at once when called; as a context manager it also restores it on exit."""

    def __init__(self, mode: bool) -> None:
        self._mode = bool(mode)
        self._previous = (STATE.enabled, STATE.inference)
        STATE.enabled = self._mode

    def _ctor_args(self):
        return (self._mode,)

    def __enter__(self) -> None:
        self._saved = self._previous
        return None

    def __call__(self, func: _F) -> _F:
        STATE.enabled, STATE.inference = self._previous  # decorating must not change the mode now
        return super().__call__(func)

    def _apply(self):
        STATE.enabled = self._mode


class inference_mode(_GradModeContext):
    """Context manager and decorator for inference: no_grad, plus is_inference_mode_enabled()
    true, as torch.inference_mode (`mode=False` disables it). Unlike PyTorch, tensors made
    inside are ordinary tensors (no inference-tensor restrictions)."""

    def __init__(self, mode: bool = True) -> None:
        self._mode = bool(mode)

    def _ctor_args(self):
        return (self._mode,)

    def _apply(self):
        # As PyTorch's InferenceMode(enabled): grad mode is the opposite of inference mode.
        STATE.enabled = not self._mode
        STATE.inference = self._mode


def _wrap_generator(make_context, func):
    """A decorated generator function runs its body in the mode each time it resumes, and
    the caller's mode is back whenever it yields (PyTorch's torch.utils._contextlib)."""

    @functools.wraps(func)
    def generator_context(*args, **kwargs):
        gen = func(*args, **kwargs)
        try:
            with make_context():
                response = gen.send(None)
            while True:
                try:
                    request = yield response
                except GeneratorExit:
                    with make_context():
                        gen.close()
                    raise
                except BaseException as error:  # noqa: BLE001 (thrown into the generator)
                    with make_context():
                        response = gen.throw(error)
                else:
                    with make_context():
                        response = gen.send(request)
        except StopIteration as stop:
            return stop.value

    return generator_context
