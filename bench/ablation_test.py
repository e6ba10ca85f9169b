"""Ablations scored on the synthetic *test* set (issue 11): each technique added to the default `bengali-fa-train`.

Every run is the training app (`train(train_config([...]))`) with the default config plus one variant's overrides,
on the same synthetic set as bench/plain_loop.py (`--n-test` test images in a held-out font, `--unseen-frac` of them
graphemes absent from train.csv), then `predict_parquets` of its bundle on the test images, scored as plain_loop.py
scores (all, seen, unseen graphemes, held-out font). The baseline is the default itself; seeds change model
initialisation, shuffling, augmentation and the rendered extras. Prints a markdown table of mean ± std over seeds and
writes bench/results/ablation_test.json after every run ("complete": false until the last).

Usage: python bench/ablation_test.py [--seeds 0 1] [--variants baseline mixup ...] [-o train.epochs=4 ...]
"""
import argparse, contextlib, io, json, os, platform, sys, time
from pathlib import Path
import pandas as pd, torch
sys.path.insert(0, str(Path(__file__).parent))
from plain_loop import COMPS, bench_set, test_scores, test_set

# what each variant adds to the default config
VARIANTS = {'baseline': [], 'mixup': ['aug=mixup'], 'cutmix': ['aug=cutmix'], 'both': ['aug=both'], 'swa': ['swa=swa'],
            'ema': ['swa=ema'], 'weights': ['model.class_weights=inverse'], 'smooth': ['model.label_smoothing=0.1'],
            'aux': ['model.grapheme_head=true'],
            'prev_aug': ['data.max_warp=0', 'data.max_rotate=8', 'data.max_zoom=1.1'],  # the augmentation before the warp
            'strong_warp': ['data.max_warp=0.25', 'data.max_rotate=12', 'data.max_zoom=1.2'],
            'bs64': ['train.bs=64', 'train.lr=0.02', 'train.epochs=7']}
KEYS = ['seconds', 'valid', 'test', 'seen', 'unseen', 'held_font']

def table(rows) -> list:
    df = pd.DataFrame(rows)
    out = ['| variant | runs | seconds | valid | test | seen | unseen | held-out font |', '|---|---|---|---|---|---|---|---|']
    for v, g in df.groupby('variant', sort=False):
        f = lambda k: f"{g[k].mean():.3f} ± {g[k].std():.3f}" if len(g) > 1 else f"{g[k].mean():.3f}"
        out.append(f"| {v} | {len(g)} | {g.seconds.mean():.0f} | {f('valid')} | {f('test')} | {f('seen')} | {f('unseen')} | {f('held_font')} |")
    return out

def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--seeds', type=int, nargs='+', default=[0, 1])
    ap.add_argument('--variants', nargs='+', default=list(VARIANTS), choices=list(VARIANTS))
    ap.add_argument('--n-test', type=int, default=2000); ap.add_argument('--unseen-frac', type=float, default=0.3)
    ap.add_argument('-o', '--override', action='append', default=[], help='a bengali-fa-train override for every run (repeatable)')
    ap.add_argument('--baseline-from', default='', help="a plain_loop.py JSON whose library rows (same set, config and seeds) stand for the baseline instead of rerunning it")
    ap.add_argument('--out', default=str(Path(__file__).parent/'results'/'ablation_test.json'))
    a = ap.parse_args()
    os.environ.setdefault('BENGALI_FA_CACHE', str(Path('~/.cache/bengali_fa').expanduser()))
    from bengali_fa.train import train, train_config
    from bengali_fa.preprocess import preprocess
    from bengali_fa.predict import predict_parquets
    cfg = train_config(a.override)
    cache = Path(os.environ['BENGALI_FA_CACHE'])/'bench'
    data = cache/f'plain_n{cfg.data.n_train}_t{a.n_test}_u{a.unseen_frac}_s0'  # the same set as plain_loop.py
    data, _ = bench_set(data, cfg.data.n_train, a.n_test, a.unseen_frac)
    lab, meta = test_set(data)
    te_files = sorted(data.glob('test_image_data_*.parquet'))
    te = preprocess(te_files, size=cfg.data.size, progress=False)
    y_te = lab.loc[te.ids].to_numpy(); meta_te = meta.loc[te.ids]; meta_te.attrs = meta.attrs
    rows, todo = [], [(v, s) for s in a.seeds for v in a.variants]
    if a.baseline_from:  # the default run is deterministic for a seed: plain_loop.py's library rows are the baseline
        prev = json.loads(Path(a.baseline_from).read_text())
        if prev['overrides'] != a.override: raise ValueError(f"{a.baseline_from}: overrides {prev['overrides']} differ from {a.override}")
        rows = [dict(variant='baseline', **{k: r[k] for k in ['seed', *KEYS]}) for r in prev['runs'] if r['model'].startswith('bengali_fa')]
    for i, (v, s) in enumerate(todo):
        t = time.perf_counter()
        with contextlib.redirect_stdout(io.StringIO()):
            r = train(train_config(a.override + VARIANTS[v] + [f'data.path={data}', f'seed={s}', f'runs_dir={cache/"runs"}']), progress=False)
        sec = time.perf_counter() - t
        p = predict_parquets(r['run'], te_files, progress=False, device='cpu').set_index('image_id').loc[te.ids][list(COMPS)].to_numpy()
        rows.append(dict(variant=v, seed=s, seconds=round(sec, 1), valid=round(r['score'], 4),
                         **{k: round(x, 4) for k, x in test_scores(y_te, p, meta_te).items()}))
        print(rows[-1], flush=True)
        out = Path(a.out); out.parent.mkdir(exist_ok=True)
        out.write_text(json.dumps(dict(
            complete=i == len(todo) - 1, table=table(rows), runs=rows, overrides=a.override, variants={v: VARIANTS[v] for v in a.variants},
            n_train=cfg.data.n_train, extra_renders=cfg.data.extra_renders, n_test=a.n_test, unseen_frac=a.unseen_frac,
            machine=dict(cpus=os.cpu_count(), torch_threads=torch.get_num_threads(), platform=platform.platform(),
                         loadavg=[round(l, 2) for l in os.getloadavg()])), indent=1) + '\n')
    print('\n'.join(table(rows)))

if __name__ == '__main__': main()
