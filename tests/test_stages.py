"""Depths of every generator stage (``gan.measure.metrics.stage_depths``): what theory says of untrained
upsamplers, the names and periods logged at every evaluation, the weight average measured the same
way, and where ``gan.summarize`` reports them."""
import csv
import json

import torch

from gan import summarize
from gan.measure import metrics as M
from gan.measure import names as N
from gan.model.networks import Generator
from gan.run import records as R
from gan.run.training import train


def stage_outputs(upsampler: str, n: int = 256, size: int = 32, seed: int = 0) -> list[torch.Tensor]:
    torch.manual_seed(seed)
    G = Generator(size, 3, ngf=8, z_dim=16, upsampler=upsampler)
    with torch.no_grad():
        return G(torch.randn(n, 16), stages=True)


def test_icnr_at_init_is_nearest_neighbour_upsampling_at_every_stage():
    """ICNR's four sub-kernels are copies of one: each stage's output is nearest x2 of a convolution,
    so every other neighbour difference is 0 (BatchNorm and ReLU act pixel by pixel): replica depth 1
    at P = 2 in every stage big enough for it (16 and 32 px), up to the 2-periodic part that nearest
    x2 gives a map whose level changes with position (the zero padding of the small early maps).
    The mean and the contrast stay nearly the same in every phase, for the same reason to within 5%
    of the contrast, not 0."""
    outputs = stage_outputs("pixel_shuffle_icnr")
    depths = M.stage_depths(outputs)
    lean = M.stage_depths(outputs, detail=False)  # without eval.detail: each stage's total depth alone
    assert lean and set(lean) < set(depths) and all(lean[k] == depths[k] for k in lean)
    assert all(N.base_name(k).startswith((N.DEPTH.split("/")[0] + "/", N.DEPTH.split("/")[0] + "_se/")) for k in lean)
    for stage in (1, 2):
        assert 0.97 < depths[N.stage_name(stage, N.REPLICA_DEPTH.format(p=2))] < 1.1, stage
        for name in (N.PHASE_DEPTH, N.FIXED_DEPTH):
            assert abs(depths[N.stage_name(stage, name.format(p=2))]) < 0.05, (stage, name)


def test_images_are_the_last_stage_and_a_transposed_stage_leaves_a_fixed_pattern():
    """The last stage's output is the image; an untrained stride-2 transposed convolution with random
    taps gives its four output phases different gains, a fixed pattern at P = 2 that a resize-conv
    stage does not have."""
    outputs = stage_outputs("transposed")
    torch.manual_seed(0)
    G = Generator(32, 3, ngf=8, z_dim=16, upsampler="transposed")
    with torch.no_grad():
        torch.testing.assert_close(G(torch.randn(256, 16)), outputs[-1])
    fixed = M.stage_depths(outputs)[N.stage_name(0, N.FIXED_DEPTH.format(p=2))]
    resized = M.stage_depths(stage_outputs("resize_bilinear"))[N.stage_name(0, N.FIXED_DEPTH.format(p=2))]
    assert fixed > 0.2 and abs(resized) < fixed / 10


def test_every_evaluation_logs_each_stage_for_both_generators(tiny_cfg, tmp_path):
    """A 16-px run has 2 stages (8 and 16 px): P = 2 at both, P = 4 at the second; with train.ema the
    weight average's depths come under ema/; the summary tables them at step 0 and at the end and
    draws them against the step."""
    cfg = tiny_cfg("train.ema=0.9", "eval.figures=false", "eval.detail=true", run_dir=tmp_path / "sweep" / "0_job")
    train(cfg)
    records = [json.loads(line) for line in (tmp_path / "sweep" / "0_job" / "metrics.jsonl").read_text().splitlines()]
    evaluations = [r for r in records if R.is_evaluation(r)]
    assert [r["step"] for r in evaluations] == [0, 2, 4]
    for r in evaluations:
        for prefix in ("", N.EMA_PREFIX):
            for stage, period in ((0, 2), (1, 2), (1, 4)):
                for name in (N.DEPTH, N.PHASE_DEPTH, N.FIXED_DEPTH):
                    assert prefix + N.stage_name(stage, name.format(p=period)) in r
            assert prefix + N.stage_name(1, N.REPLICA_DEPTH.format(p=2)) in r
            assert prefix + N.stage_name(1, N.DEPTH.format(p=8)) not in r  # 16 px: periods up to 4
    assert summarize.main([str(tmp_path / "sweep"), "--generator", "ema"]) == 0
    md = (tmp_path / "sweep" / "summary.md").read_text()
    assert "Depth of each generator stage's output" in md and "stage 1 (P=4)" in md
    assert "| group | depth raw | depth ema |" in md  # both generators side by side
    rows = list(csv.DictReader((tmp_path / "sweep" / "summary.csv").open()))
    assert N.of_generator(N.HEADLINE, "ema") in rows[0]
    assert (tmp_path / "sweep" / "summary_stages.png").stat().st_size > 1000


def test_stage_depths_can_be_switched_off(tiny_cfg):
    cfg = tiny_cfg("eval.stages=false", "eval.figures=false", "train.steps=2")
    train(cfg)
    last = [json.loads(line) for line in open(f"{cfg.run_dir}/metrics.jsonl")][-1]
    assert not any(k.startswith("stage") for k in last) and N.HEADLINE in last
