"""Regression baseline of the training app: fixed configs whose scores are stored in bench/results/baseline.json.

- `tiny`: the config that nbs/11_train.ipynb trains in CI (300 synthetic images, 32 px, 3 epochs); run here with
  several seeds, its floor is the lowest score minus a noise margin. The notebook asserts that its run reaches it.
- `default`: `bengali-fa-train` with no arguments in an empty cache (8,000 synthetic images plus 5,000 renders of unseen
  combinations, 64 px, xresnet18, 4 epochs of one cycle, bf16 on a CPU with native bf16); its wall time includes
  generating and preprocessing the set.

Usage:
  python bench/baseline.py            # run both and compare with the stored scores (exit 1 below a floor)
  python bench/baseline.py --update   # run both and store the new scores (after a change that should move them)
  python bench/baseline.py --only tiny
"""
import argparse, shutil, json, os, sys, tempfile, time, platform, contextlib, io
from pathlib import Path
import numpy as np, torch

from bengali_fa.test_utils import TINY  # the tiny config, as the training notebook trains it
SEEDS, MARGIN = (0, 1, 2), 0.02
OUT = Path(__file__).parent/'results'/'baseline.json'

def run(overrides, runs_dir):
    from bengali_fa.train import train, train_config
    with contextlib.redirect_stdout(io.StringIO()):
        t = time.perf_counter(); r = train(train_config(list(overrides) + [f'runs_dir={runs_dir}']), progress=False)
    return {**{k: r[k] for k in ('score', 'root', 'vowel', 'consonant', 'best_epoch')}, 'wall_s': round(time.perf_counter() - t, 1)}

def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--update', action='store_true'); ap.add_argument('--only', choices=['tiny', 'default'])
    a = ap.parse_args()
    tmp = Path(tempfile.mkdtemp()); os.environ.setdefault('BENGALI_FA_CACHE', str(tmp/'cache'))
    try: compare(a, tmp)
    finally: shutil.rmtree(tmp, ignore_errors=True)  # the rendered set, its cache and the runs

def compare(a, tmp:Path):
    "Run the configs `a.only` selects in `tmp`, print them against the stored scores, store them with `a.update`"
    stored = json.loads(OUT.read_text()) if OUT.is_file() else {}
    new, rows, ok = dict(stored), [], True
    if a.only in (None, 'tiny'):
        rs = [run(TINY + [f'seed={s}'], tmp/'runs') for s in SEEDS]
        sc = np.array([r['score'] for r in rs])
        new['tiny'] = dict(overrides=TINY, seeds=list(SEEDS), scores=sc.round(4).tolist(), mean=round(float(sc.mean()), 4),
                           std=round(float(sc.std()), 4), floor=round(float(sc.min()) - MARGIN, 4),
                           wall_s=[r['wall_s'] for r in rs])
        rows.append(('tiny (3 seeds, mean)', new['tiny']['mean'], stored.get('tiny', {}).get('mean'), stored.get('tiny', {}).get('floor')))
        if 'tiny' in stored and sc.min() < stored['tiny']['floor']: ok = False
    if a.only in (None, 'default'):
        r = run([], tmp/'runs')
        new['default'] = dict(overrides=[], seed=0, **r, floor=round(r['score'] - MARGIN, 4))
        rows.append(('default (seed 0)', r['score'], stored.get('default', {}).get('score'), stored.get('default', {}).get('floor')))
        if 'default' in stored and r['score'] < stored['default']['floor']: ok = False
    fmt = lambda v: '-' if v is None else f'{v:.4f}'
    print('| config | score now | stored score | floor |\n|---|---|---|---|')
    for name, now, old, floor in rows: print(f'| {name} | {fmt(now)} | {fmt(old)} | {fmt(floor)} |')
    for k in ('tiny', 'default'):
        if k in new and k != a.only and a.only: continue
        if k in new: print(k, json.dumps(new[k]))
    if a.update:
        new['machine'] = dict(cpu=platform.processor() or platform.machine(), threads=torch.get_num_threads(), torch=torch.__version__,
                              cuda=torch.cuda.get_device_name() if torch.cuda.is_available() else None, cpus=os.cpu_count(),
                              loadavg_at_end=[round(l, 2) for l in os.getloadavg()])
        OUT.parent.mkdir(exist_ok=True); OUT.write_text(json.dumps(new, indent=1) + '\n'); print(f'stored in {OUT}')
    elif not ok: print('REGRESSION: a score is below its stored floor'); sys.exit(1)

if __name__ == '__main__': main()
