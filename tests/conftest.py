"""Shared fixtures. `each_backend` runs a test once per llgrad.compile back end and checks,
after the test, that every compiled function it called ran on that back end (its executions
counter), so a test cannot pass by silently running another way."""
import pytest

BACKENDS = ("llvm", "interp")


@pytest.fixture(params=BACKENDS)
def each_backend(request, monkeypatch):
    from llgrad import compiled

    backend = request.param
    monkeypatch.setenv("LLGRAD_BACKEND", backend)
    created = []
    original = compiled.CompiledFunction.__init__

    def recording_init(self, *args, **kwargs):
        original(self, *args, **kwargs)
        created.append(self)

    monkeypatch.setattr(compiled.CompiledFunction, "__init__", recording_init)
    yield backend
    for fn in created:
        executions = fn.stats["executions"]
        if not any(executions.values()):
            continue  # never got as far as running (an expected tracing error)
        assert executions[fn.backend] > 0, f"{fn.__name__} never ran on {fn.backend}"
        others = {k: v for k, v in executions.items() if k != fn.backend and v}
        assert not others, f"{fn.__name__} ran on {others} instead of {fn.backend}"
        if fn.backend == "llvm":
            assert fn.stats["compiles"] > 0
