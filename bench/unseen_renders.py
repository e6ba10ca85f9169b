"""Rendered unseen combinations in training (issue 13, part 1): the default config with and without `data.extra_renders`.

On a synthetic set whose test half shows graphemes absent from train.csv (`write_dataset(n_train, n_test,
unseen_frac=0.5)`, one held-out test font), train the default `bengali-fa-train` config for the same number of
epochs without and with `data.extra_renders=N` (renders of unseen combinations in the set's train fonts, added to the
training split only), then score both on the synthetic *test* set with `predict_parquets` + `make_submission` +
`score_submission`: all test images, seen and unseen graphemes, and the held-out font alone. `--same-steps` adds the
baseline trained for as many optimizer steps as the run with renders (more epochs), so that "more data" can be told
apart from "more steps".

The renders are made (and timed) before training; `train` then finds them in the cache. Wall times depend on the
machine's load, recorded as `os.getloadavg()`. Prints a markdown table and writes bench/results/unseen_renders.json.

Usage: taskset -c 1 python bench/unseen_renders.py [--n-train 3000] [--n-test 1500] [--extra 1000] [-o train.epochs=4 ...] [--same-steps]
"""
import argparse, contextlib, io, json, os, platform, time
from pathlib import Path
import sys
import pandas as pd, torch
sys.path.insert(0, str(Path(__file__).parent))
from plain_loop import bench_set

def held_font_score(sub, sol, meta, held) -> float:
    "The competition score on the test images in a held-out font"
    from bengali_fa.predict import score_submission
    ids = set(meta.image_id[meta.font.isin(held)])
    rows = sol.row_id.str.rsplit('_', n=2).str[0].isin(ids)
    return score_submission(sub[sub.row_id.isin(sol.row_id[rows])], sol[rows].drop(columns='seen'))['score'] if rows.any() else float('nan')

def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('--n-train', type=int, default=3000)
    ap.add_argument('--n-test', type=int, default=1500)
    ap.add_argument('--unseen-frac', type=float, default=0.5)
    ap.add_argument('--extra', type=int, default=1000, help='data.extra_renders of the second run')
    ap.add_argument('--graphemes', default='unseen', help='data.extra_graphemes: unseen or all')
    ap.add_argument('--seed', type=int, default=0, help='training seed (the set is always seed 0)')
    ap.add_argument('-o', '--override', action='append', default=None, help='a bengali-fa-train override (repeatable; default: train.epochs=4 data.size=64)')
    ap.add_argument('--same-steps', action='store_true', help='also the baseline trained for the steps of the run with renders')
    ap.add_argument('--out', default=str(Path(__file__).parent/'results'/'unseen_renders.json'))
    a = ap.parse_args()
    over = a.override if a.override is not None else ['train.epochs=4', 'data.size=64']
    load0 = os.getloadavg()
    os.environ.setdefault('BENGALI_FA_CACHE', str(Path('~/.cache/bengali_fa').expanduser()))
    from bengali_fa.train import train, train_config
    from bengali_fa.extras import render_extras
    from bengali_fa.predict import predict_parquets, make_submission, score_submission
    cache = Path(os.environ['BENGALI_FA_CACHE'])
    t = time.perf_counter()
    data, info = bench_set(cache/'bench'/f'unseen_n{a.n_train}_t{a.n_test}_u{a.unseen_frac}_s0', a.n_train, a.n_test, a.unseen_frac)
    synth_s = time.perf_counter() - t
    te_files = sorted(data.glob('test_image_data_*.parquet'))
    sol = pd.read_csv(data/'test_solution.csv')
    meta = pd.read_csv(data/'synth_meta.csv').query("split == 'test'")
    cfg0 = train_config(over + [f'data.path={data}', f'seed={a.seed}'])
    t = time.perf_counter()  # the renders that `train` will find in the cache (same graphemes, fonts, seed and cache folder)
    folder = render_extras(a.extra, a.graphemes, data, a.seed, progress=False)
    render_s = time.perf_counter() - t
    fonts = sorted(set(pd.read_csv(folder/'extra.csv').font))
    assert not set(fonts) & set(info['test_only_fonts']), "a render uses the held-out test font"
    n_tr = round(a.n_train * (1 - 1 / cfg0.data.n_folds))
    variants = [('baseline', []), (f'+{a.extra} renders ({a.graphemes})', [f'data.extra_renders={a.extra}', f'data.extra_graphemes={a.graphemes}'])]
    if a.same_steps:
        e = round(cfg0.train.epochs * (n_tr + a.extra) / n_tr)
        variants.append((f'baseline, {e} epochs (same steps)', [f'train.epochs={e}']))
    rows = []
    for name, extra in variants:
        runs = cache/'bench'/'unseen_runs'
        t = time.perf_counter()
        with contextlib.redirect_stdout(io.StringIO()):
            r = train(train_config(over + extra + [f'data.path={data}', f'seed={a.seed}', f'runs_dir={runs}']), progress=False)
        train_s = time.perf_counter() - t
        preds = predict_parquets(r['run'], te_files, progress=False, device='cpu')
        sub = make_submission(preds, data/'test.csv', out=None)
        s = score_submission(sub, sol)
        rows.append(dict(variant=name, overrides=over + extra, epochs=r['epochs_done'], train_seconds=round(train_s, 1),
                         valid=round(r['score'], 4), test=round(s['score'], 4), seen=round(s['seen']['score'], 4),
                         unseen=round(s['unseen']['score'], 4), unseen_root=round(s['unseen']['root'], 4),
                         held_font=round(held_font_score(sub, sol, meta, info['test_only_fonts']), 4), run=r['run']))
        print(rows[-1], flush=True)
    table = ['| variant | epochs | train s | valid | test | seen | unseen | unseen root | held-out font |', '|---|---|---|---|---|---|---|---|---|']
    for r in rows:
        table.append(f"| {r['variant']} | {r['epochs']} | {r['train_seconds']:.0f} | {r['valid']:.3f} | {r['test']:.3f} | {r['seen']:.3f} | "
                     f"{r['unseen']:.3f} | {r['unseen_root']:.3f} | {r['held_font']:.3f} |")
    print('\n'.join(table))
    print(f"renders: {a.extra} in {render_s:.0f}s, fonts {', '.join(fonts)}; test-only font {', '.join(info['test_only_fonts'])}")
    load1 = os.getloadavg()
    out = Path(a.out); out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(dict(
        table=table, runs=rows, overrides=over, seed=a.seed, n_train=a.n_train, n_test=a.n_test, unseen_frac=a.unseen_frac,
        extra=dict(n=a.extra, graphemes=a.graphemes, render_seconds=round(render_s, 1), fonts=fonts, folder=folder.name),
        synth_seconds=round(synth_s, 1), train_fonts=info['train_fonts'], test_only_fonts=info['test_only_fonts'],
        test_images=dict(seen=int((meta.seen == True).sum()), unseen=int((meta.seen == False).sum())),
        machine=dict(cpus=os.cpu_count(), affinity=len(os.sched_getaffinity(0)), torch_threads=torch.get_num_threads(),
                     platform=platform.platform(), loadavg_at_start=[round(l, 2) for l in load0],
                     loadavg_at_end=[round(l, 2) for l in load1])), indent=1) + '\n')

if __name__ == '__main__': main()
