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
        if fn.backend == "llvm":  # its native code was compiled, or shared through the cache
            stats = fn.stats
            assert stats["compiles"] + stats["disk_hits"] + stats["memory_hits"] > 0


@pytest.fixture(autouse=True, scope="session")
def private_kernel_cache(tmp_path_factory):
    """The tests never write into the user's kernel cache: every run gets an empty one of its
    own (subprocesses inherit it through the environment)."""
    import os

    saved = {name: os.environ.get(name) for name in ("LLGRAD_CACHE_DIR", "LLGRAD_CACHE")}
    os.environ["LLGRAD_CACHE_DIR"] = str(tmp_path_factory.mktemp("llgrad-kernel-cache"))
    os.environ.pop("LLGRAD_CACHE", None)
    yield os.environ["LLGRAD_CACHE_DIR"]
    for name, value in saved.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value
