"""Parametrizes the `op` argument of the op tests over the table's rows of the test's family."""
from .op_table import ops_in


def pytest_generate_tests(metafunc):
    if "op" not in metafunc.fixturenames:
        return
    family = getattr(metafunc.cls, "family", None)
    if family is None:
        return  # a test that parametrizes `op` itself
    select = getattr(metafunc.function, "selects", lambda op: True)
    ops = [o for o in ops_in(family) if select(o)]
    metafunc.parametrize("op", ops, ids=[o.name for o in ops])
