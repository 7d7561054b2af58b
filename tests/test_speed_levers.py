"""channels_last, mixed precision and CPU threads: the same training step, only faster where supported.

The code paths run on CPU here; their speed is measured on a GPU with experiments/bench_train.py.
"""
import pytest
import torch

from gan.measure import names as N
from gan.core import runtime
from gan.data.loading import batches
from gan.model.build import build_dataset
from gan.run.state import new_state
from gan.run.training import next_batches, train, train_step

CPU = torch.device("cpu")


def fresh(tiny_cfg, *overrides):
    cfg = tiny_cfg(*overrides)
    torch.manual_seed(0)
    return cfg, new_state(cfg, 3, CPU)


def one_step(state, cfg, real):
    state.noise[0].manual_seed(1)  # the same z for every variant
    return train_step(state, real[None], cfg.train.loss, cfg.train.amp)


@pytest.fixture
def real():
    return torch.rand(8, 3, 16, 16, generator=torch.Generator().manual_seed(2)) * 2 - 1


def grads(state):
    return [p.grad for net in (state.G, state.D) for p in net.parameters()]


def test_channels_last_gives_the_same_step(tiny_cfg, real):
    cfg_a, a = fresh(tiny_cfg)
    cfg_b, b = fresh(tiny_cfg, "train.channels_last=true")
    kernels = [p for net in (b.G, b.D) for p in net.parameters() if p.ndim == 4]
    assert kernels and all(p.is_contiguous(memory_format=torch.channels_last) for p in kernels)
    assert not all(p.is_contiguous(memory_format=torch.channels_last)
                   for net in (a.G, a.D) for p in net.parameters() if p.ndim == 4)
    sa = one_step(a, cfg_a, real)
    sb = one_step(b, cfg_b, real.contiguous(memory_format=torch.channels_last))
    for k in sa:
        torch.testing.assert_close(sa[k], sb[k], rtol=1e-4, atol=1e-6)
    for ga, gb in zip(grads(a), grads(b)):  # gradients, not Adam's first update (sign-like for tiny g)
        torch.testing.assert_close(ga, gb, rtol=1e-3, atol=1e-6)


def test_bf16_autocast_runs_the_networks_in_bf16_with_fp32_weights(tiny_cfg, real):
    cfg32, s32 = fresh(tiny_cfg)
    cfg16, s16 = fresh(tiny_cfg, "train.amp=bf16")
    dtypes = []
    s16.G.net.register_forward_hook(lambda module, inputs, output: dtypes.append(output.dtype))
    stats32, stats16 = one_step(s32, cfg32, real), one_step(s16, cfg16, real)
    assert dtypes == [torch.bfloat16]
    assert all(p.dtype == torch.float32 for net in (s16.G, s16.D) for p in net.parameters())
    assert stats16["train/loss_D"].item() != stats32["train/loss_D"].item()  # a different computation ...
    for k in stats32:  # ... within bf16 precision (8 mantissa bits)
        torch.testing.assert_close(stats16[k], stats32[k], rtol=0.03, atol=0.03)


def test_fp16_loss_scale_is_checkpointed_and_restored(tiny_cfg, real):
    cfg, a = fresh(tiny_cfg, "train.amp=fp16")
    assert a.scaler.is_enabled()
    stats = one_step(a, cfg, real)
    assert all(torch.isfinite(v) for v in stats.values())
    a.scaler.update(new_scale=512.0)
    _, b = fresh(tiny_cfg, "train.amp=fp16")
    b.load_state_dict(a.state_dict())
    assert b.scaler.get_scale() == 512.0


def test_fp16_run_resumes(tiny_cfg):
    cfg = tiny_cfg("train.amp=fp16", "eval.figures=false")
    train(cfg)
    cfg.train.steps = 6
    final = train(cfg)
    assert final["step"] == 6 and torch.isfinite(torch.tensor(final["train/loss_D"]))
    saved = torch.load(f"{cfg.run_dir}/checkpoints/last.pt", weights_only=True)
    assert saved["scaler"]["scale"] > 0


def test_threads_setting(tiny_cfg):
    before = torch.get_num_threads()
    try:
        train(tiny_cfg("threads=1", "train.steps=2", "eval.figures=false"))
        assert torch.get_num_threads() == 1
        runtime.set_threads(None)  # None leaves PyTorch's choice alone
        assert torch.get_num_threads() == 1
    finally:
        torch.set_num_threads(before)


def packed_vs_single(tiny_cfg, device: str, *overrides: str, steps: int = 3):
    """Replica 1 of a 2-seed job and the single run with its seed, after ``steps`` steps on ``device``."""
    out = []
    for extra in (["seed=0", "num_seeds=2"], ["seed=1"]):
        cfg = tiny_cfg(f"device={device}", *extra, *overrides)
        dataset = build_dataset(cfg)
        state = new_state(cfg, 3, torch.device(device))
        streams = [batches(dataset, cfg.train.batch_size, seed=s) for s in state.seeds]
        for _ in range(steps):
            train_step(state, next_batches(streams, torch.device(device), torch.contiguous_format), "bce")
        out.append({k: v[-1] for k, v in state.G.state_dict().items()})
    return out


@pytest.mark.slow
@pytest.mark.parametrize("seeds", [1, 2])
def test_compiled_step_equals_eager_on_cpu(tiny_cfg, seeds):
    """torch.compile (about a minute per network on 2 CPU cores) computes the same step."""
    weights = []
    for mode in ("off", "default"):
        cfg = tiny_cfg(f"train.compile={mode}", f"num_seeds={seeds}")
        dataset = build_dataset(cfg)
        state = new_state(cfg, 3, CPU)
        streams = [batches(dataset, cfg.train.batch_size, seed=s) for s in state.seeds]
        for _ in range(2):
            train_step(state, next_batches(streams, CPU, torch.contiguous_format), "bce")
        weights.append(state.G.state_dict())
    for k in weights[0]:
        torch.testing.assert_close(weights[1][k], weights[0][k], atol=1e-5, rtol=1e-4)


cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")


@cuda
def test_packed_replica_equals_single_run_on_cuda(tiny_cfg):
    packed, single = packed_vs_single(tiny_cfg, "cuda")
    for k in single:
        torch.testing.assert_close(packed[k], single[k], atol=1e-4, rtol=1e-3)


@cuda
@pytest.mark.parametrize("mode", ["default", "reduce-overhead"])
def test_compiled_training_runs_on_cuda(tiny_cfg, mode):
    final = train(tiny_cfg("device=cuda", f"train.compile={mode}", "num_seeds=2", "eval.figures=false"))
    assert final["step"] == 4 and torch.isfinite(torch.tensor(final[N.HEADLINE]))


@cuda
def test_fused_adam_and_bf16_on_cuda(tiny_cfg):
    cfg = tiny_cfg("device=cuda", "train.amp=bf16")
    state = new_state(cfg, 3, torch.device("cuda"))
    assert state.opt_g.defaults["fused"]
    stats = train_step(state, torch.rand(1, 8, 3, 16, 16, device="cuda") * 2 - 1, "bce", "bf16")
    assert all(torch.isfinite(v).all() for v in stats.values())


GLIBC_ONLY = pytest.mark.skipif(runtime._libc_function("malloc_trim") is None, reason="glibc's malloc_trim is missing")

# a child that frees 400 blocks of 1 MB on the heap (glibc's default mapping threshold raised past them first)
# and prints its resident memory in MB before and after the call given in argv[1]
_HEAP_CHILD = """
import sys, torch
from gan.core import runtime
def rss():
    return next(int(l.split()[1]) for l in open("/proc/self/status") if l.startswith("VmRSS")) / 1024
if sys.argv[1] == "lean":
    runtime.lean_heap()
raise_threshold = torch.empty(2**24, dtype=torch.uint8)
del raise_threshold  # freeing a 16 MB map raises glibc's default threshold to 16 MB
blocks = [torch.ones(2**20, dtype=torch.uint8) for _ in range(400)]
keep = torch.ones(2**21, dtype=torch.uint8)  # 2 MB on top of the heap: the blocks cannot be trimmed off its end
del blocks
before = rss()
if sys.argv[1] == "release":
    runtime.release_freed_memory(runtime.TRIM_BYTES)
elif sys.argv[1] == "small":
    runtime.release_freed_memory(runtime.TRIM_BYTES - 1)
print(before, rss())
"""


@GLIBC_ONLY
@pytest.mark.parametrize("mode, returned", [("release", True), ("small", False), ("lean", False)])
def test_freed_heap_memory_goes_back_to_the_system_after_a_large_step(mode, returned):
    """400 MB of freed 1 MB blocks stay resident until ``release_freed_memory`` trims the heap (and
    only after a step that handled ``TRIM_BYTES`` or more); under ``lean_heap`` with its 8 MB
    threshold, 1 MB blocks are heap blocks too, so only a trim returns them."""
    import subprocess
    import sys
    out = subprocess.run([sys.executable, "-c", _HEAP_CHILD, mode], capture_output=True, text=True, check=True)
    before, after = map(float, out.stdout.split())
    assert (before - after > 300) == returned, (mode, before, after)


@GLIBC_ONLY
def test_lean_heap_maps_large_blocks_so_that_freeing_returns_them():
    """Under ``lean_heap``, 40 blocks of 10 MB (over its 8 MB threshold) are returned the moment they
    are freed; under glibc's default, once its threshold has risen to 16 MB, they stay resident."""
    import subprocess
    import sys
    child = _HEAP_CHILD.replace("2**20, dtype=torch.uint8) for _ in range(400)",
                                "10 * 2**20, dtype=torch.uint8) for _ in range(40)")
    for mode, returned in (("lean", True), ("default", False)):
        out = subprocess.run([sys.executable, "-c", child, mode], capture_output=True, text=True, check=True)
        before, after = map(float, out.stdout.split())
        baseline = subprocess.run([sys.executable, "-c", "import torch; print(next(int(l.split()[1]) for l in "
                                   "open('/proc/self/status') if l.startswith('VmRSS')) / 1024)"],
                                  capture_output=True, text=True, check=True)
        assert (before - float(baseline.stdout) < 200) == returned, (mode, before, float(baseline.stdout))
