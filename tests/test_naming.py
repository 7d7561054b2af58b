"""gan.run.naming: the folder names of runs and sweep jobs, from the overrides as typed."""
import hashlib

import pytest

from gan.run.naming import among, job_name, named_overrides, run_name, short_keys, short_name


def test_a_key_is_among_settings_when_it_is_one_or_lies_under_one():
    assert among("eval", ["eval"]) and among("eval.every", ["eval"]) and among("train.steps", ["x", "train.steps"])
    assert not among("evaluation", ["eval"]) and not among("train", ["train.steps"]) and not among("eval", [])


@pytest.mark.parametrize("overrides,expected", [
    (["generator.upsample_layers=last"], ["upsample_layers=last"]),
    (["generator.ngf=8", "discriminator.ndf=8"], ["ngf=8", "ndf=8"]),
    # two keys share their last part: each keeps the shortest tail no other key has
    (["generator.norm.kind=bn", "discriminator.norm.kind=sn"], ["generator.norm.kind=bn", "discriminator.norm.kind=sn"]),
    (["a.x.k=1", "b.y.k=2"], ["x.k=1", "y.k=2"]),
    # a key that is another's whole tail keeps its own name; the longer one is cut past it
    (["kind=1", "norm.kind=2"], ["kind=1", "norm.kind=2"]),
    (["seed=3"], ["seed=3"]),
    (["x.y=a=b"], ["y=a=b"]),  # only the key is cut, the value kept whole
    (["+debug=tiny"], ["debug=tiny"]),  # the key as Hydra reads it, without its prefix
    (["~generator.ngf"], ["~generator.ngf"]),  # no value: as typed
])
def test_short_keys_cut_each_key_to_its_shortest_unique_tail(overrides, expected):
    assert short_keys(overrides) == expected


def test_short_name_keeps_what_fits_and_hashes_the_rest():
    assert short_name("a/b,c=1") == "a_b,c=1" and short_name("") == "default"
    exact = "x" * 160
    assert short_name(exact) == exact
    long = "y" * 161
    cut = short_name(long)
    assert len(cut) == 160 and cut == "y" * 151 + "_" + hashlib.sha1(long.encode()).hexdigest()[:8]
    assert short_name(long + "z") != cut  # unique: the hash is of the whole text
    assert len(short_name("z" * 500, limit=40)) == 40


def test_named_overrides_drop_what_never_names_a_run_and_sort_by_key():
    got = named_overrides(["seed=1", "train.steps=9", "eval.every=5", "+debug=tiny", "data.root=/d", "lr=2",
                           "hydra.run.dir=x", "device=cpu"])
    assert got == ["debug=tiny", "lr=2", "seed=1"]
    assert named_overrides(["a.b=1", "a=2"]) == ["a=2", "a.b=1"]  # by key, not by the text ('.' sorts before '=')


def test_run_name_puts_the_lead_first_by_its_name_alone():
    assert run_name(["upsampler=resize_nearest", "seed=1"], lead="resize_nearest") == "resize_nearest,seed=1"
    assert run_name(["seed=1", "train.steps=9"], lead="transposed") == "transposed,seed=1"
    assert run_name([], lead=None) == "default"
    assert run_name(["experiment=quick", "seed=0,1"]) == "quick,seed=0,1"
    assert run_name(["upsampler=a,b", "generator.ngf=8"]) == "ngf=8,upsampler=a,b"


def test_job_name_is_the_number_then_what_is_swept():
    assert job_name(3, ["upsampler=resize_nearest", "seed=1", "lr=2"], ["upsampler", "seed"]) == \
        "3_upsampler=resize_nearest,seed=1"
    assert job_name(0, ["seed=4", "num_seeds=3", "upsampler=x"], ["upsampler", "seed", "num_seeds"]) == \
        "0_upsampler=x,seeds=4-6"
    assert job_name(2, ["seed=4", "num_seeds=1"], ["seed", "num_seeds"]) == "2_seed=4"
    assert job_name(5, ["num_seeds=2", "+lr=1"], ["lr", "num_seeds"]) == "5_lr=1,seeds=0-1"  # no seed: from 0
    assert len(job_name(1, [f"k{i}=" + "v" * 20 for i in range(10)], [f"k{i}" for i in range(10)])) == 120
