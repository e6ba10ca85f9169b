"""Which roots fail on held-out designs (issue 29, part 4): root recall against the root's training images, and the worst confusions.

Reads a result file of `bench/styles.py` (its rows name each library run's folder), predicts each run's held-out
designs' test images again (no test-time augmentation), and reports:
1. root recall by how many training images (the run's training rows, rendered extras included) the root had:
   roots in buckets of training images, each bucket's number of roots, test images and mean recall (recall per root
   over the run's test images, then the mean over the bucket's roots, then over runs);
2. the most frequent root confusions over all runs (true -> predicted, count, share of the true root's test images),
   and whether the predicted root had more training images than the true one.
Prints both tables and writes bench/results/root_errors_<name>.json.

Usage: python bench/root_errors.py bench/results/styles_default_rerun.json [--name default]
"""
import argparse, json
from pathlib import Path
import numpy as np, pandas as pd
from plain_loop import COMPS

BUCKETS = [(0, 10), (11, 30), (31, 100), (101, 10**9)]

def training_split(run:Path):
    "A run's `Split` (training split and rendered extras), as `split_data` gives it from the run's config.yaml"
    from omegaconf import OmegaConf
    from bengali_fa.data import split_data
    cfg = OmegaConf.load(run/'config.yaml'); d = cfg.data
    return split_data(d.path, size=d.size, fold=d.fold, n_folds=d.n_folds, holdout=d.holdout, seed=cfg.seed,
                      cache_dir=d.cache_dir or None, progress=False, extra_renders=d.extra_renders, extra_graphemes=d.extra_graphemes)

def training_counts(run:Path) -> pd.Series:
    "Training images per root of a run"
    s = training_split(run)
    return pd.Series(s.targets[s.train, 0]).value_counts().reindex(range(168), fill_value=0)

def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('result', help='a bench/styles.py result file')
    ap.add_argument('--name', default='', help='result name (default: the styles file name without styles_)')
    ap.add_argument('--k', type=int, default=15, help='how many confusions')
    a = ap.parse_args()
    from styles import result_runs
    from bengali_fa.predict import predict_parquets
    from bengali_fa.interpret import class_recall, worst_confusions
    per_bucket, ys, ps, counts_of = [], [], [], []
    for grp, seed, run, test, lab, _, _ in result_runs(a.result):
        p = predict_parquets(run, sorted(test.glob('test_image_data_*.parquet')), progress=False, device='cpu').set_index('image_id')
        y, p = lab.loc[p.index].to_numpy(), p[list(COMPS)].to_numpy()
        n_tr = training_counts(Path(run))
        rec = class_recall(y, p).set_index('cls')
        rec = rec[rec.support > 0].assign(n_train=lambda t: n_tr.loc[t.index].to_numpy())
        for lo, hi in BUCKETS:
            b = rec[(rec.n_train >= lo) & (rec.n_train <= hi)]
            per_bucket.append(dict(run=run, group=grp, bucket=f'{lo}-{hi}' if hi < 10**9 else f'>{lo - 1}', roots=len(b), images=int(b.support.sum()),
                                   recall=round(float(b.recall.mean()), 4) if len(b) else None))
        ys.append(y); ps.append(p); counts_of.append(n_tr)
    pb = pd.DataFrame(per_bucket)
    table = ['| training images of the root | roots (mean over runs) | test images | root recall |', '|---|---|---|---|']
    for bk, g in pb.groupby('bucket', sort=False):
        table.append(f'| {bk} | {g.roots.mean():.0f} | {g.images.mean():.0f} | {g.recall.mean():.3f} |')
    n_tr = pd.concat(counts_of, axis=1).mean(axis=1)
    conf = worst_confusions(np.concatenate(ys), np.concatenate(ps), k=a.k)
    conf = conf.assign(n_train_true=n_tr.loc[conf.true].round().to_numpy(), n_train_pred=n_tr.loc[conf.pred].round().to_numpy())
    table += ['', '| true root | predicted | count | share | training images (true / predicted) |', '|---|---|---|---|---|']
    table += [f'| {r.true} {r.true_glyph} | {r.pred} {r.pred_glyph} | {r["count"]} | {r.share:.2f} | {r.n_train_true:.0f} / {r.n_train_pred:.0f} |' for _, r in conf.iterrows()]
    print('\n'.join(table))
    name = a.name or Path(a.result).stem.removeprefix('styles_')
    out = Path(__file__).parent/'results'/f'root_errors_{name}.json'
    out.write_text(json.dumps(dict(source=str(a.result), table=table, buckets=per_bucket, confusions=conf.to_dict('records')), indent=1, ensure_ascii=False) + '\n')

if __name__ == '__main__': main()
