"""``bench``: measuring rules, the official-style reference forward, rolling cost, forward counting, the CLI."""

from __future__ import annotations

import csv
from pathlib import Path

import torch

from allinone_bench.bench.core import Row, csv_name, measure, write_csv
from allinone_bench.cli import main


def test_measure_excludes_warmup_and_takes_the_median() -> None:
    calls: list[int] = []
    timing = measure(lambda: calls.append(1), device=torch.device("cpu"), warmup=2, repeats=5)
    assert len(calls) == 7 and timing.repeats == 5 and len(timing.all_s) == 5
    assert sorted(timing.all_s)[2] == timing.median_s and timing.peak_mib > 0


def test_csv_name_states_device_dtype_torch(tmp_path: Path) -> None:
    name = csv_name("model", torch.device("cpu"), "bf16")
    assert name.startswith("bench-model-cpu-") and "-bf16-torch" + torch.__version__.split("+")[0] in name
    path = write_csv([Row("model", "a", "s", 1.0, {"x": 1}), Row("model", "b", "s", None, {"y": 2})],
                     tmp_path / name)
    rows = list(csv.DictReader(path.open()))
    assert [r["name"] for r in rows] == ["a", "b"] and rows[1]["y"] == "2" and rows[0]["x"] == "1"


def test_official_style_forward_matches_our_model() -> None:
    from allinone_bench.bench.official import official_style_forward
    from allinone_bench.model import build_model

    torch.manual_seed(0)
    model = build_model("ti", depth=2, num_frames=3, max_text_len=12).eval()
    video = torch.randn(2, 3, 3, 224, 224)
    ids = torch.randint(1000, 30000, (2, 12))
    mask = torch.ones_like(ids)
    mask[1, 8:] = 0
    with torch.no_grad():
        ours = model(video, ids, mask).cls_feats
        ref = official_style_forward(dict(model.state_dict()), video, ids, mask, heads=3, depth=2, permute=False)
        permuted = official_style_forward(dict(model.state_dict()), video, ids, mask, heads=3, depth=2)
    assert torch.allclose(ours, ref, atol=1e-5)
    assert permuted.shape == ours.shape  # the official random patch selection runs (values may differ)


def test_rolling_attention_against_flatten() -> None:
    from allinone_bench.bench.rolling import rolling_rows

    rows = {r.name: r for r in rolling_rows(frames=(3,), warmup=0, repeats=1, precision="fp32")}
    roll, none, flat = rows["ti roll T=3"], rows["ti none T=3"], rows["ti flatten T=3"]
    assert roll.figures["attention_gmacs"] == none.figures["attention_gmacs"] < flat.figures["attention_gmacs"]
    # 2 T (Lt+Lv)^2 D against 2 (Lt + T Lv)^2 D with Lt 40, Lv 197: 3 * 237^2 / 631^2 = 0.423, not 1/3
    assert abs(roll.figures["attention_vs_flatten"] - 3 * 237**2 / 631**2) < 1e-3
    assert roll.figures["paper_claim_holds"] is False and roll.figures["paper_1_over_T"] == 0.333


def test_bench_retrieval_cli_counts_forwards(tmp_path: Path, capsys) -> None:  # noqa: ANN001
    try:
        main(["bench", "retrieval", "--num-videos", "6", "--rerank-k", "2", "-o", str(tmp_path)])
    except SystemExit as stop:
        assert stop.code in (0, None)
    (path,) = tmp_path.glob("bench-retrieval-cpu-*-torch*.csv")
    rows = {r["name"]: r for r in csv.DictReader(path.open())}
    n = 6
    assert int(rows["cross"]["joint_forwards"]) == n * n
    assert int(rows["dual"]["joint_forwards"]) == 0 and int(rows["dual"]["text_passes"]) == n
    assert int(rows["dual+rerank(k=2)"]["joint_forwards"]) == 2 * n  # t2v: k per text
    assert 2 * n <= int(rows["dual+rerank(k=2, both)"]["joint_forwards"]) <= 2 * 2 * n


def test_bench_data_rows_per_backend_and_worker_count() -> None:
    from allinone_bench.bench.data import data_rows

    rows = data_rows(backends=("decord", "pyav", "nonesuch"), workers=(0,), clips=2, seconds=1, warmup=0, repeats=1)
    names = [r.name for r in rows]
    assert names == ["decode+transform decord", "decode+transform pyav", "DataLoader 0 workers"]  # unknown skipped
    assert all(r.seconds > 0 and r.figures["clips_per_s"] > 0 for r in rows)
