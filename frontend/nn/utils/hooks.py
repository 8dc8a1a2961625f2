"""`RemovableHandle`: what registering a module or optimizer hook returns."""
from __future__ import annotations

import weakref
from typing import Any


class RemovableHandle:
    """Removes the hook it was created for from `hooks_dict` (and from each `extra_dict`)."""

    next_id = 0

    def __init__(self, hooks_dict: dict[Any, Any], *,
                 extra_dict: dict[Any, Any] | list[dict[Any, Any]] | None = None) -> None:
        self.hooks_dict_ref = weakref.ref(hooks_dict)
        self.id = RemovableHandle.next_id
        RemovableHandle.next_id += 1
        if isinstance(extra_dict, dict):
            extra_dict = [extra_dict]
        self.extra_dict_ref = tuple(weakref.ref(d) for d in extra_dict or ())

    def remove(self) -> None:
        """Unregisters the hook (again: nothing happens)."""
        for ref in (self.hooks_dict_ref,) + self.extra_dict_ref:
            hooks = ref()
            if hooks is not None and self.id in hooks:
                del hooks[self.id]

    def __enter__(self) -> RemovableHandle:
        return self

    def __exit__(self, *exc: object) -> None:
        self.remove()
