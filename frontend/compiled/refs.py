"""Where a specialization finds, at each call, a tensor it saw while tracing.

An argument is found by its position (each call passes new tensors); state (parameters,
optimizer buffers) by identity; a `.grad` slot through its owner, read afresh because
zero_grad() and backward() replace the tensor in it.
"""


class ArgRef:
    __slots__ = ("index",)

    def __init__(self, index):
        self.index = index

    def __call__(self, flat_args):
        return flat_args[self.index]

    def describe(self):
        return f"argument {self.index}"


class StateRef:
    __slots__ = ("tensor", "name")

    def __init__(self, tensor, name):
        self.tensor, self.name = tensor, name

    def __call__(self, flat_args):
        return self.tensor

    def describe(self):
        return self.name


class GradRef:
    __slots__ = ("owner",)

    def __init__(self, owner):
        self.owner = owner

    def __call__(self, flat_args):
        return self.owner(flat_args)._grad

    def describe(self):
        return f".grad of {self.owner.describe()}"


def make_refs(tracer, names):
    """One ref per lifted record (keyed by the record's id)."""
    refs = {}
    for record in tracer.lifted_order:
        if record.grad_owner is not None:
            continue
        index = tracer.arg_ids.get(id(record.tensor))
        if index is not None:
            refs[id(record)] = ArgRef(index)
        else:
            name = names.get(id(record.tensor), f"state tensor {list(record.array.shape)}")
            refs[id(record)] = StateRef(record.tensor, name)
    for record in tracer.lifted_order:
        if record.grad_owner is not None:
            owner = tracer.lifted[id(record.grad_owner)]
            refs[id(record)] = GradRef(refs[id(owner)])
    return refs
