"""K independent copies of one network, run as one: several seeds in one process.

``Replicas(nets)`` holds the parameters and buffers of K networks of the same architecture stacked
along a new first dimension (``torch.func.stack_module_state``) and maps inputs ``(K, B, ...)`` to
outputs ``(K, B, ...)`` with ``vmap`` over ``functional_call``: one set of kernel launches for all K
(a convolution becomes a grouped one). Each replica computes exactly what its own network would:
BatchNorm statistics stay per replica, and one Adam over the stacked parameters is K Adams, since
Adam works element by element. With K = 1 the network is called directly, as a single run always
was. ``state_dict`` is stacked, ``replica(k)`` materialises one network (for figures, the DC check
and ``gan.analyze``).
"""
from __future__ import annotations

import copy
import functools
from typing import Iterator

import torch
import torch.nn as nn
from torch.func import functional_call, stack_module_state, vmap


class Replicas:
    """K networks of one architecture as stacked tensors; ``__call__`` maps ``(K, B, ...) -> (K, B, ...)``."""

    def __init__(self, nets: list[nn.Module]):
        if not nets:
            raise ValueError("Replicas needs at least one network")
        self.count = len(nets)
        self.compiled = None  # torch.compile of the training forward, if asked for
        if self.count == 1:  # the network itself: a single run computes exactly as before
            self.net = nets[0]
            self.template = None
            self.params = dict(self.net.named_parameters())
            self.buffers = dict(self.net.named_buffers())
        else:
            self.net = None
            params, buffers = stack_module_state(nets)
            self.params = {k: v.detach().requires_grad_(True) for k, v in params.items()}
            self.buffers = buffers
            self.template = copy.deepcopy(nets[0]).to("meta")  # structure only; tensors come from the stacks

    # -- computing ------------------------------------------------------------------------------

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        """The training forward (compiled with ``compile``)."""
        if self.compiled is not None:
            return self.compiled(x)
        return self.eager(x)

    def eager(self, x: torch.Tensor, **kwargs) -> torch.Tensor | list[torch.Tensor]:
        """The forward without compilation (sampling, whose batch sizes differ from training's);
        ``kwargs`` go to the network (a generator's ``stages=True``: a list of ``(K, B, ...)``)."""
        if self.net is not None:
            out = self.net(x[0], **kwargs)
            return [o[None] for o in out] if isinstance(out, list) else out[None]
        return vmap(functools.partial(self._one, **kwargs), randomness="different")(self.params, self.buffers, x)

    def compile(self, mode: str = "default") -> "Replicas":
        """``torch.compile`` the training forward (``reduce-overhead``: with CUDA graphs)."""
        if self.net is not None:
            compiled_net = torch.compile(self.net, mode=mode)
            self.compiled = lambda x: compiled_net(x[0])[None]
        else:
            vmapped = torch.compile(vmap(self._one, randomness="different"), mode=mode)
            self.compiled = lambda x: vmapped(self.params, self.buffers, x)
        return self

    def _one(self, params: dict, buffers: dict, x: torch.Tensor, **kwargs) -> torch.Tensor:
        return functional_call(self.template, (params, buffers), (x,), kwargs)

    def parameters(self) -> Iterator[torch.Tensor]:
        """The trainable tensors (stacked, ``(K, ...)``, for K > 1)."""
        return iter(self.params.values())

    def train(self, mode: bool = True) -> "Replicas":
        (self.net or self.template).train(mode)
        return self

    def to(self, device: torch.device, memory_format: torch.memory_format = torch.contiguous_format) -> "Replicas":
        if self.net is not None:
            self.net.to(device, memory_format=memory_format)
            self.params, self.buffers = dict(self.net.named_parameters()), dict(self.net.named_buffers())
        else:  # NHWC is a 4-D layout; stacked tensors stay as they are
            self.params = {k: v.detach().to(device).requires_grad_(True) for k, v in self.params.items()}
            self.buffers = {k: v.to(device) for k, v in self.buffers.items()}
        return self

    @torch.no_grad()
    def follow(self, other: "Replicas", decay: float) -> None:
        """Exponential moving average: every parameter moves ``1 - decay`` of the way to ``other``'s;
        buffers (BatchNorm statistics, unused by train-mode sampling) are copied."""
        torch._foreach_lerp_(list(self.params.values()), [p.detach() for p in other.params.values()], 1 - decay)
        for name, b in self.buffers.items():
            b.copy_(other.buffers[name])

    # -- per replica ------------------------------------------------------------------------------

    def finite(self) -> torch.Tensor:
        """``(K,)`` bool: no NaN/Inf in any parameter of replica k (no host sync)."""
        flags = [torch.isfinite(p).reshape(self.count, -1).all(dim=1) if self.net is None
                 else torch.isfinite(p).all().reshape(1) for p in self.params.values()]
        return torch.stack(flags).all(dim=0)

    def replica(self, k: int) -> nn.Module:
        """A network holding replica k's parameters and buffers (a copy, for evaluation only)."""
        if self.net is not None:
            return self.net
        net = copy.deepcopy(self.template).to_empty(device=next(iter(self.params.values())).device)
        net.load_state_dict({name: t[k] for name, t in self.state_dict().items()})
        return net

    # -- state ------------------------------------------------------------------------------------

    def state_dict(self) -> dict[str, torch.Tensor]:
        """Every parameter and buffer, stacked ``(K, ...)`` (also for K = 1)."""
        tensors = {**self.params, **self.buffers}
        if self.net is not None:
            return {k: v.detach()[None] for k, v in tensors.items()}
        return {k: v.detach() for k, v in tensors.items()}

    @torch.no_grad()
    def load_state_dict(self, state: dict[str, torch.Tensor], replicas: torch.Tensor | None = None) -> None:
        """Copy stacked tensors in; ``replicas`` ``(K,)`` bool: only those replicas."""
        for name, target in {**self.params, **self.buffers}.items():
            source = state[name].to(target.device)
            if self.net is not None:
                source = source[0]
                if replicas is None or bool(replicas[0]):
                    target.copy_(source)
            elif replicas is None:
                target.copy_(source)
            else:
                target[replicas] = source[replicas]


def replica_state(stacked: dict[str, torch.Tensor], k: int) -> dict[str, torch.Tensor]:
    """Replica k's ``state_dict`` from a stacked one (a checkpoint's ``G`` or ``D``)."""
    return {name: t[k] for name, t in stacked.items()}
