"""A study's archive (``gan.archive``): what a sweep folder says, its compact copy says too."""
import csv

from omegaconf import OmegaConf

from gan import archive, summarize
from gan.run.rundir import RunDir
from tests.test_summarize import fake_job


def sweep(root, running=True):
    for i, (up, seed, ce) in enumerate([("A", 0, 0.010), ("A", 1, 0.012), ("B", 0, 0.020), ("B", 1, 0.026)]):
        run = fake_job(root, f"{i}_job", up, seed, ce=ce, steps=(0, 4, 8, 10))
        (run / ".hydra").mkdir()
        OmegaConf.save(OmegaConf.create({"hydra": {"runtime": {"choices": {"upsampler": up}}}}),
                       run / ".hydra" / "hydra.yaml")
    if running:
        fake_job(root, "4_job", "B", 2, status="running", steps=(0,))
    return root


def table(folder, out):
    assert summarize.main([str(folder), "--out", str(out)]) == 0
    return list(csv.DictReader((out / "summary.csv").open()))


def test_the_archive_summarises_as_its_sweep_and_leaves_out_a_running_run(tmp_path, capsys):
    sweep(tmp_path / "sweep")
    assert archive.main([str(tmp_path / "sweep"), "--to", str(tmp_path / "results")]) == 0
    assert "4 run(s) archived" in capsys.readouterr().out
    kept = sorted(p.relative_to(tmp_path / "results" / "0_job").as_posix()
                  for p in (tmp_path / "results" / "0_job").rglob("*") if p.is_file())
    assert kept == [".hydra/hydra.yaml", "config.yaml", "metrics.jsonl.gz", "status.json"]
    assert not (tmp_path / "results" / "4_job").exists()
    run = RunDir(tmp_path / "results" / "2_job")
    assert run.read_metrics() == RunDir(tmp_path / "sweep" / "2_job").read_metrics()
    assert run.hydra_choices() == {"upsampler": "B"}
    finished = sweep(tmp_path / "finished", running=False)
    assert table(tmp_path / "results", tmp_path / "b") == table(finished, tmp_path / "a")


def test_archiving_again_adds_new_runs_and_refuses_changed_records(tmp_path, capsys):
    sweep(tmp_path / "sweep")
    archive.main([str(tmp_path / "sweep"), "--to", str(tmp_path / "results")])
    RunDir(tmp_path / "sweep" / "4_job").write_status("finished")
    capsys.readouterr()
    assert archive.main([str(tmp_path / "sweep"), "--to", str(tmp_path / "results")]) == 0
    assert "1 run(s) archived into" in capsys.readouterr().out and (tmp_path / "results" / "4_job").is_dir()
    with (tmp_path / "sweep" / "0_job" / "metrics.jsonl").open("a") as f:
        f.write('{"step": 12}\n')
    assert archive.main([str(tmp_path / "sweep"), "--to", str(tmp_path / "results")]) == 2
    assert "already archived with different records" in capsys.readouterr().err


def test_a_missing_or_empty_folder_is_one_error_line(tmp_path, capsys):
    assert archive.main([str(tmp_path / "nope"), "--to", str(tmp_path / "r")]) == 2
    assert archive.main([str(tmp_path), "--to", str(tmp_path / "r")]) == 2
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 2 and "no such folder" in err[0] and "no run folders" in err[1]
