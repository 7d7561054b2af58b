"""Bad input gets one clear line naming the key, and exit code 2 from the CLI."""
import pytest
import torch
from omegaconf import OmegaConf, open_dict

from gan.core.config import flatten, load_preset, presets
from gan.core.errors import ConfigError
from gan.model.build import build_generator
from gan.run.validate import validate
from tests.conftest import ROOT, TINY, cli, cli_process, compose_config

BAD = [  # (override, key named in the message)
    ("image_size=48", "image_size"),
    ("image_size=4", "image_size"),
    ("train.steps=0", "train.steps"),
    ("train.steps=-5", "train.steps"),
    ("train.batch_size=0", "train.batch_size"),
    ("train.lr_g=0", "train.lr_g"),
    ("train.lr_d=-1e-4", "train.lr_d"),
    ("train.lr_g=nan", "train.lr_g"),
    ("train.loss=wasserstein", "train.loss"),
    ("train.betas=[0.5,1.5]", "train.betas"),
    ("eval.every=0", "eval.every"),
    ("eval.num_samples=0", "eval.num_samples"),
    ("eval.grid_size=1000", "eval.grid_size"),
    ("eval.window=gauss", "eval.window"),
    ("eval.f_min=0.7", "eval.f_min"),
    ("generator.ngf=0", "generator.ngf"),
    ("generator.upsample_layers=first", "generator.upsample_layers"),
    ("discriminator.downsample=maxpool", "discriminator.downsample"),
    ("upsampler=resize_nearest upsampler.kernel_size=4", "upsampler.kernel_size"),
    ("upsampler=pixel_shuffle upsampler.init=bilinear", "upsampler.init"),
    ("upsampler.kernel_size=0", "upsampler.kernel_size"),
    ("data.channels=2", "data.channels"),
    ("data=folder", "data.root"),
    ("device=cuda:7", "device"),
    ("device=tpu", "device"),
    ("train.amp=fp8", "train.amp"),
    ("threads=0", "threads"),
]


def tiny_with(override: str) -> list[str]:
    """TINY plus ``override`` (which may hold several space-separated overrides)."""
    return [*TINY, *override.split()]


@pytest.mark.parametrize("override,key", BAD)
def test_validate_names_the_key(override, key):
    cfg = compose_config(*tiny_with(override))
    with pytest.raises(ConfigError) as e:
        validate(cfg)
    msg = str(e.value)
    assert key in msg and "\n" not in msg


@pytest.mark.parametrize("group", ["upsampler", "data", "generator", "discriminator", "train", "eval"])
def test_default_and_every_preset_validate(group):
    """Every option of every group composes into a config that validates and carries that option's
    values; every upsampler preset builds a generator of the configured output size."""
    for name in presets(group):
        small = ("image_size=16", "generator.ngf=4") if group == "upsampler" else ()
        cfg = compose_config(f"{group}={name}", *small)
        if group == "data" and name not in ("deadleaves", "strokes"):  # files that this machine lacks
            with pytest.raises(ConfigError, match="data.root|data.download"):
                validate(cfg)
            continue
        validate(cfg)
        assert OmegaConf.to_container(cfg[group]) == {**OmegaConf.to_container(cfg[group]),
                                                      **OmegaConf.to_container(load_preset(group, name))}
        if group == "upsampler":
            G = build_generator(cfg, 3)
            assert G(torch.randn(2, cfg.generator.z_dim)).shape == (2, 3, 16, 16), name


def _check_cli(tmp_path, override, key, run=cli):
    out = run(ROOT, *tiny_with(override), f"hydra.run.dir={tmp_path / 'run'}")
    assert out.returncode == 2, out.stderr[-2000:]
    assert key in out.stderr and "Traceback" not in out.stderr and not (tmp_path / "run").exists()


@pytest.mark.parametrize("override,key", [BAD[0], BAD[8], BAD[18], BAD[22]])
def test_cli_exit_code_2_without_traceback(tmp_path, override, key):
    _check_cli(tmp_path, override, key)


def test_a_refused_process_exits_with_code_2(tmp_path):
    """The same refusal from a new process: its exit code is 2 and it prints one line."""
    _check_cli(tmp_path, *BAD[0], run=cli_process)


@pytest.mark.slow
@pytest.mark.parametrize("override,key", BAD)
def test_cli_table(tmp_path, override, key):
    _check_cli(tmp_path, override, key)


@pytest.mark.parametrize("name", ["deconv", "resize_nearst"])
def test_unknown_upsampler_lists_the_choices(tmp_path, name):
    out = cli(ROOT, *tiny_with(f"upsampler={name}"), f"hydra.run.dir={tmp_path / 'run'}")
    assert out.returncode != 0 and "transposed_k3" in out.stderr and "Traceback" not in out.stderr


def test_missing_dataset_says_where_and_how(tmp_path):
    out = cli(ROOT, *tiny_with(f"data=mnist data.root={tmp_path / 'nowhere'}"), f"hydra.run.dir={tmp_path / 'run'}")
    assert out.returncode == 2
    assert "data.download=true" in out.stderr and str(tmp_path / "nowhere") in out.stderr
    assert "Traceback" not in out.stderr


def wrong_value(value):
    """A value of another type than ``value``."""
    if isinstance(value, bool):
        return "maybe"
    if isinstance(value, (int, float)):
        return "abc"
    if isinstance(value, list):
        return "abc"
    return {"a": 1}  # strings and null defaults: no setting takes a mapping


def group_options():
    out = [[]]
    for group in ("data", "upsampler", "scale"):
        for name in presets(group):
            option = [f"{group}={name}"] if group != "scale" else [f"+scale={name}"]
            needs = {"folder": ["data.root=/tmp"], "mnist": ["data.download=true"], "fashion_mnist": ["data.download=true"],
                     "cifar10": ["data.download=true"]}.get(name, [])  # validation looks for the data
            out.append(option + needs)
    return out + [[f"+experiment={name}"] for name in presets("experiment")]


@pytest.mark.parametrize("option", group_options(), ids=lambda o: " ".join(o) or "default")
def test_every_leaf_with_a_wrong_type_is_named(option):
    base = compose_config(*TINY, *option)
    validate(base)  # the option itself is fine
    keys = [k for k in flatten(OmegaConf.to_container(base, resolve=False)) if not k.startswith("hydra")]
    assert len(keys) > 40
    for key in keys:
        cfg = base.copy()
        with open_dict(cfg):
            OmegaConf.update(cfg, key, wrong_value(OmegaConf.select(cfg, key)), merge=False)
        with pytest.raises(ConfigError) as e:
            validate(cfg)
        msg = str(e.value)
        assert key in msg and "\n" not in msg, (key, msg)


@pytest.mark.parametrize("override,key", [("seed=abc", "seed"), ("eval.swd_patches=0", "eval.swd_patches"),
                                          ("eval.swd_dirs=0", "eval.swd_dirs"), ("seed=1.5", "seed"),
                                          ("+train.stepz=5", "train.stepz"), ("+upsampler.kernal_size=3", "kernal_size"),
                                          ("objective=checkerboard/p3x", "objective")])
def test_cli_rejects_typos_and_malformed_values(tmp_path, override, key):
    _check_cli(tmp_path, override, key)
