"""The learning gate's floors: `GATE` (bengali_fa.test_utils) trained on several seeds through `train`, as
nbs/97_learning_gate.ipynb trains it in CI, and scored three ways: the run's own validation score, the run's bundle on
the same validation images (scikit-learn's macro recall on labels read from train.csv), and the bundle on the test set.

The floor of each score is mean - 3.5 sd over the seeds. The gate must also be tight: a drop of a tenth of the way to
chance (the score of constant predictions of the commonest class) must fall below the floor; the table says whether it
does. Writes bench/results/gate.json (`--out` to write elsewhere).

Usage:
  python bench/gate.py                      # seeds 0..5, two runs at a time with one torch thread each
  python bench/gate.py --seeds 0 1 --jobs 1 # one at a time with every core (the gate's CI timing)
  python bench/gate.py --one-epoch --seeds 0 1  # one epoch's score, what the shuffled-labels check compares with
"""
import argparse, json, os, platform, shutil, sys, tempfile, time
from concurrent.futures import ProcessPoolExecutor
import multiprocessing as mp
from pathlib import Path
import numpy as np

OUT = Path(__file__).parent/'results'/'gate.json'
K = 3.5  # floor = mean - K sd: 3.5 sd (0.0003 of runs below it if scores are normal) and below a tenth of the way to chance (3.6 sd here)

def one(seed, threads, root):
    import torch; torch.set_num_threads(threads)
    os.environ['BENGALI_FA_CACHE'] = str(Path(root)/'cache')
    from bengali_fa.test_utils import learning_gate
    r = learning_gate(seed, runs_dir=Path(root)/'runs')
    r.pop('run_dir'); r['first_losses'] = [round(l, 3) for l in r['first_losses'][::10]]
    print(f"seed {seed}: run {r['run']['score']:.4f} bundle {r['bundle_valid']['score']:.4f} test {r['test']['score']:.4f} "
          f"(seen {r['test']['seen']:.4f} unseen {r['test']['unseen']:.4f}) {r['seconds']}", flush=True)
    return r

def one_epoch(seed, threads, root):
    "The score of one epoch of `GATE` (the real labels): what the shuffled-labels check is told apart from"
    import contextlib, io, torch; torch.set_num_threads(threads)
    os.environ['BENGALI_FA_CACHE'] = str(Path(root)/'cache')
    from bengali_fa.test_utils import GATE
    from bengali_fa.train import train, train_config
    with contextlib.redirect_stdout(io.StringIO()):
        r = train(train_config([*GATE, 'data.extra_renders=0', 'train.epochs=1', f'seed={seed}', f'runs_dir={Path(root)/"runs"}']), progress=False)
    print(f"seed {seed}, one epoch: {r['score']:.4f}", flush=True)
    return r['score']

def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--seeds', type=int, nargs='+', default=list(range(6)))
    ap.add_argument('--jobs', type=int, default=2)
    ap.add_argument('--out', default=str(OUT))
    ap.add_argument('--one-epoch', action='store_true', help="only one epoch's score (no renders) on --seeds, added to --out")
    ap.add_argument('--resummarise', action='store_true', help='recompute the floors of the runs stored in --out (no training)')
    a = ap.parse_args()
    if a.resummarise:
        old = json.loads(Path(a.out).read_text())
        return report({**old, **summarise(old['runs'], a)}, a.out)
    root = Path(tempfile.mkdtemp(prefix='bengali_fa_gate_'))
    try:
        from bengali_fa.test_utils import GATE
        os.environ['BENGALI_FA_CACHE'] = str(root/'cache')
        from bengali_fa.train import data_path, train_config
        data_path(train_config(GATE), progress=False)  # render the set once, before the runs share it
        threads = max(1, (os.cpu_count() or 1) // a.jobs)
        t = time.perf_counter()
        with ProcessPoolExecutor(a.jobs, mp_context=mp.get_context('spawn')) as ex:
            rs = list(ex.map(one_epoch if a.one_epoch else one, a.seeds, [threads] * len(a.seeds), [str(root)] * len(a.seeds)))
        wall = time.perf_counter() - t
    finally: shutil.rmtree(root, ignore_errors=True)
    if a.one_epoch:
        res = json.loads(Path(a.out).read_text())
        res['one_epoch'] = dict(overrides=['data.extra_renders=0', 'train.epochs=1'], seeds=a.seeds, scores=[round(v, 4) for v in rs],
                                mean=round(float(np.mean(rs)), 4))
        Path(a.out).write_text(json.dumps(res, indent=1) + '\n'); print(f"one epoch: {res['one_epoch']}; added to {a.out}")
        return
    res = summarise(rs, a)
    res.update(jobs=a.jobs, torch_threads=threads, wall_s=round(wall, 1), machine=dict(platform=platform.platform(), cpus=os.cpu_count(),
               loadavg_at_end=[round(l, 2) for l in os.getloadavg()]))
    report(res, a.out)

def summarise(rs:list, a) -> dict:
    "Mean, sd and floor of each score over the runs `rs`, chance, and whether the run floor is tight"
    from bengali_fa.test_utils import GATE
    summary = {}
    for name, get in (('run', lambda r: r['run']['score']), ('bundle_valid', lambda r: r['bundle_valid']['score']),
                      ('test', lambda r: r['test']['score']), ('test_unseen', lambda r: r['test']['unseen'])):
        v = np.array([get(r) for r in rs])
        summary[name] = dict(scores=v.round(4).tolist(), mean=round(float(v.mean()), 4), sd=round(float(v.std(ddof=1)), 4),
                             floor=round(float(v.mean() - K * v.std(ddof=1)), 4))
    chance = float(np.mean([r['chance'] for r in rs]))
    gap = np.array([abs(r['run']['score'] - r['bundle_valid']['score']) for r in rs])
    s = summary['run']
    tenth = s['mean'] - 0.1 * (s['mean'] - chance)
    return dict(gate=GATE, seeds=[r['seed'] for r in rs], rule=f'floor = mean - {K} sd (sd over seeds, ddof=1)', summary=summary,
                chance=round(chance, 4), tenth_of_the_way_to_chance=round(tenth, 4), tight=bool(tenth < s['floor']),
                bundle_vs_run_max_abs_diff=round(float(gap.max()), 5), runs=rs)

def report(res:dict, out):
    summary, s = res['summary'], res['summary']['run']
    print(f'| score | seeds | mean | sd | floor (mean - {K} sd) |\n|---|---|---|---|---|')
    for k, v in summary.items(): print(f"| {k} | {', '.join(f'{x:.3f}' for x in v['scores'])} | {v['mean']:.4f} | {v['sd']:.4f} | {v['floor']:.4f} |")
    print(f"chance {res['chance']:.4f}; a tenth of the way to chance {res['tenth_of_the_way_to_chance']:.4f} is "
          f"{'below' if res['tight'] else 'ABOVE'} the run floor {s['floor']:.4f}; bundle vs run: at most {res['bundle_vs_run_max_abs_diff']:.5f} apart")
    Path(out).parent.mkdir(exist_ok=True); Path(out).write_text(json.dumps(res, indent=1) + '\n'); print(f'wrote {out}')

if __name__ == '__main__': main()
