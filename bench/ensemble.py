"""A k-fold ensemble against its best single fold (issue 32), on the yardstick of held-out font designs.

The set is `bench/styles.py`'s (one group of held-out designs, 30% of the test images graphemes absent from
`train.csv`). For each seed the training app trains folds 0..k-1 of `data.n_folds=k` (`train(train_config(...))`, the
same config but the fold), `fold_group` gives their cross-validation score, and each fold and the ensemble of all
(`predict_parquets` with the fold group's folder: the heads' probabilities averaged) predict the held-out designs'
test images. Reports, per seed and as the mean over seeds: each fold's test score, the best fold's, the ensemble's,
and the CV score. Prints a table and writes bench/results/ensemble.json.

Usage: python bench/ensemble.py [--folds 3] [--seeds 0 1] [--epochs 8] [--n-train 2000] [--threads 0] [--resume]
       python bench/ensemble.py --quick    (a smoke check: 300 images, 2 folds, 1 epoch, 1 seed)
"""
import argparse, contextlib, io, json, shutil, time
from pathlib import Path
import numpy as np, torch
from plain_loop import COMPS, machine
from styles import held_out_set, design_scores

PRESET = ['data.size=32', 'train.bs=64', 'data.extra_renders=300']

def scores(p, y, design, seen) -> dict:
    "Mean over held-out designs of score, root, unseen and unseen/seen"
    rows = [design_scores(y[design == g], p[design == g], None, seen[design == g]) for g in sorted(set(design))]
    return {k: round(float(np.mean([r[k] for r in rows])), 4) for k in ('score', 'root', 'unseen', 'ratio')}

def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--group', default='Galada,Noto Serif Bengali', help='held-out designs, comma-separated')
    ap.add_argument('--n-train', type=int, default=2000); ap.add_argument('--n-test', type=int, default=1000)
    ap.add_argument('--folds', type=int, default=3); ap.add_argument('--epochs', type=int, default=8)
    ap.add_argument('--seeds', type=int, nargs='+', default=[0, 1])
    ap.add_argument('--threads', type=int, default=0, help='torch threads (0: the default)')
    ap.add_argument('--quick', action='store_true', help='smoke check: 300 images, 100 test images, 2 folds, 1 epoch, 1 seed')
    ap.add_argument('--resume', action='store_true', help='keep the seeds already in the result file and skip them')
    ap.add_argument('--out', default='', help='result file (default bench/results/ensemble.json; --quick: ensemble_quick.json)')
    a = ap.parse_args()
    if a.quick: a.n_train, a.n_test, a.folds, a.epochs, a.seeds = 300, 100, 2, 1, [0]
    if a.threads: torch.set_num_threads(a.threads)
    out = Path(a.out or Path(__file__).parent/'results'/('ensemble_quick.json' if a.quick else 'ensemble.json'))
    from bengali_fa.train import train, train_config
    from bengali_fa.predict import predict_parquets
    from bengali_fa.runs import fold_group
    group = [g.strip() for g in a.group.split(',')]
    root, data, (files, ids, y, design, seen) = held_out_set(group, a.n_train, a.n_test)
    pred = lambda model: predict_parquets(model, files, progress=False, device='cpu').set_index('image_id').loc[ids][list(COMPS)].to_numpy()
    rows, t0 = [], time.perf_counter()
    if a.resume and out.exists(): rows = [r for r in json.loads(out.read_text())['runs'] if r['seed'] in a.seeds]
    for s in a.seeds:
        if any(r['seed'] == s for r in rows): continue
        g = root/'ensemble_runs'/f'{data.name}_k{a.folds}_e{a.epochs}_s{s}'
        shutil.rmtree(g, ignore_errors=True)
        folds = []
        for k in range(a.folds):
            t = time.perf_counter()
            ov = [*PRESET, f'train.epochs={a.epochs}', f'seed={s}', f'data.path={data}', f'data.n_folds={a.folds}', f'data.fold={k}',
                  f'runs_dir={g}', f'run_dir={g/str(k)}']
            with contextlib.redirect_stdout(io.StringIO()): r = train(train_config(ov), progress=False)
            folds.append(dict(fold=k, valid=round(r['score'], 4), seconds=round(time.perf_counter() - t, 1), **scores(pred(g/str(k)), y, design, seen)))
            print(f"seed {s} fold {k}: valid {folds[-1]['valid']:.4f} test {folds[-1]['score']:.4f} ({folds[-1]['seconds']:.0f} s)", flush=True)
        cv = fold_group(g)
        ens = scores(pred(g), y, design, seen)
        best = max(folds, key=lambda f: f['score'])
        rows.append(dict(seed=s, cv_score=round(cv['cv_score'], 4), folds=folds, best_fold=best['fold'], best=best, ensemble=ens,
                         gain=round(ens['score'] - best['score'], 4)))
        print(f"seed {s}: ensemble {ens['score']:.4f} best fold {best['score']:.4f} (fold {best['fold']}) cv {cv['cv_score']:.4f}", flush=True)
        out.write_text(json.dumps(dict(complete=False, runs=rows), indent=1) + '\n')
    f = lambda k, sub: np.mean([r[sub][k] for r in rows])
    table = ['| seed | cv score (valid folds) | fold test scores | best fold | ensemble | ensemble - best | best root | ensemble root | best unseen | ensemble unseen |',
             '|---|---|---|---|---|---|---|---|---|---|']
    for r in rows:
        table.append(f"| {r['seed']} | {r['cv_score']:.4f} | {' '.join(format(x['score'], '.4f') for x in r['folds'])} | {r['best']['score']:.4f} | "
                     f"{r['ensemble']['score']:.4f} | {r['gain']:+.4f} | {r['best']['root']:.4f} | {r['ensemble']['root']:.4f} | "
                     f"{r['best']['unseen']:.4f} | {r['ensemble']['unseen']:.4f} |")
    table.append(f"| **mean** | {np.mean([r['cv_score'] for r in rows]):.4f} | | {f('score', 'best'):.4f} | {f('score', 'ensemble'):.4f} | "
                 f"{np.mean([r['gain'] for r in rows]):+.4f} | {f('root', 'best'):.4f} | {f('root', 'ensemble'):.4f} | {f('unseen', 'best'):.4f} | {f('unseen', 'ensemble'):.4f} |")
    print('\n'.join(table))
    out.write_text(json.dumps(dict(complete=True, table=table, runs=rows, preset=PRESET, group=group, n_train=a.n_train, n_test=a.n_test,
                                   n_folds=a.folds, epochs=a.epochs, seeds=a.seeds, total_seconds=round(time.perf_counter() - t0), machine=machine()),
                              indent=1) + '\n')

if __name__ == '__main__': main()
