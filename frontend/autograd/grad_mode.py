"""Whether operations record autograd history: `no_grad`, `enable_grad`, `set_grad_enabled`,
`inference_mode`, each usable as a context manager and as a decorator."""
import functools
import inspect
import threading


class _GradState(threading.local):
    """Grad mode is per thread, as in PyTorch: a new thread starts with the class defaults
    (grad enabled), whatever mode the thread that started it is in."""

    enabled = True
    inference = False


STATE = _GradState()


def is_grad_enabled():
    return STATE.enabled


def is_inference_mode_enabled():
    return STATE.inference


class _GradModeContext:
    """Base for the context managers: subclasses set `_target()`; usable as `@ctx`, `@ctx()`."""

    def __new__(cls, func=None, *args, **kwargs):
        # `@no_grad` without parentheses: PyTorch accepts it, so do we.
        if callable(func) and not args and not kwargs and cls is not set_grad_enabled:
            return cls()(func)
        return super().__new__(cls)

    def __call__(self, func):
        if inspect.isgeneratorfunction(func):
            return _wrap_generator(self.clone, func)

        @functools.wraps(func)
        def wrapper(*args, **kwargs):
            with self.clone():
                return func(*args, **kwargs)

        return wrapper

    def _ctor_args(self):
        return ()

    def __enter__(self):
        self._saved = (STATE.enabled, STATE.inference)
        self._apply()
        return None

    def __exit__(self, *exc):
        STATE.enabled, STATE.inference = self._saved
        return False

    def clone(self):
        return self.__class__(*self._ctor_args())


class no_grad(_GradModeContext):
    def _apply(self):
        STATE.enabled = False


class enable_grad(_GradModeContext):
    def _apply(self):
        STATE.enabled = True


class set_grad_enabled(_GradModeContext):
    """Sets grad mode at once when called; as a context manager it also restores it on exit."""

    def __init__(self, mode):
        self._mode = bool(mode)
        self._previous = (STATE.enabled, STATE.inference)
        STATE.enabled = self._mode

    def _ctor_args(self):
        return (self._mode,)

    def __enter__(self):
        self._saved = self._previous
        return None

    def __call__(self, func):
        STATE.enabled, STATE.inference = self._previous  # decorating must not change the mode now
        return super().__call__(func)

    def _apply(self):
        STATE.enabled = self._mode


class inference_mode(_GradModeContext):
    def __init__(self, mode=True):
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
