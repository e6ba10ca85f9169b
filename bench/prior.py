"""Does dividing out the training prior help held-out designs? (issue 29, part 4: root recall on a new design)

The competition's metric is macro recall: every root counts alike, however rare. A model trained with cross-entropy on
images drawn with the competition's class counts (35 roots have 10 or fewer of the default run's 6,400 training images,
17 have over 100) learns their prior too. Post-hoc logit adjustment (Menon et al., 2021, "Long-tail learning via logit
adjustment") predicts argmax_c p(c | x) / prior(c)^tau, which for tau = 1 is the rule that maximises balanced accuracy
(macro recall) when p(c | x) is calibrated; it needs no training.

For each library run of a `bench/styles.py` result file:
- prior(c) = the run's training images of class c (training split and rendered extras; +1 each) over their total, per head;
- tau is chosen per head on the run's own validation fold (its `oof_probs.npz`: the training set's distribution,
  never the held-out designs), from `TAUS`, by that head's macro recall;
- the held-out designs' test images are predicted again (probabilities, no TTA) and scored at tau = 0 (the library's
  rule), tau = 1, and the validation's tau.
Prints the table (mean over runs per held-out design, then over designs) and writes bench/results/prior_<name>.json.

Usage: python bench/prior.py bench/results/styles_default_rerun.json [--name default]
"""
import argparse, json
from pathlib import Path
import numpy as np, pandas as pd
from sklearn.metrics import recall_score
from plain_loop import COMPS
from styles import design_scores, design_table, result_runs

TAUS = (0., .25, .5, .75, 1., 1.25, 1.5)

def adjusted(probs:list, priors:list, taus) -> np.ndarray:
    "(n, 3) labels: per head, argmax of log p - tau log prior"
    return np.stack([(np.log(np.clip(p, 1e-12, None)) - t * np.log(q)).argmax(1) for p, q, t in zip(probs, priors, taus)], 1)

def run_priors(run:Path) -> list:
    "Per head, the training prior of a run: its training rows' (extras included) class counts + 1, normalised"
    from root_errors import training_split
    s = training_split(run)
    return [(np.bincount(s.targets[s.train, k], minlength=n) + 1) / (len(s.train) + n) for k, n in enumerate((168, 11, 7))]

def valid_taus(run:Path, priors:list) -> tuple:
    "Per head, the tau of `TAUS` with the best macro recall on the run's validation fold (ties: the smaller)"
    oof = pd.read_csv(run/'oof.csv'); z = np.load(run/'oof_probs.npz')
    assert (z['image_id'] == oof.image_id.to_numpy()).all()
    best = []
    for k, c in enumerate(COMPS):
        r = [recall_score(oof[c], adjusted([z[c]], [priors[k]], [t])[:, 0], average='macro', zero_division=0) for t in TAUS]
        best.append(TAUS[int(np.argmax(r))])
    return tuple(best)

def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('result', help='a bench/styles.py result file')
    ap.add_argument('--name', default='', help='result name (default: the styles file name without styles_)')
    a = ap.parse_args()
    from bengali_fa.predict import predict_parquets
    rows = []
    for grp, seed, run, test, lab, meta, designs in result_runs(a.result):
        group = [g.strip() for g in grp.split(',')]
        df, probs = predict_parquets(run, sorted(test.glob('test_image_data_*.parquet')), progress=False, device='cpu', probs=True)
        y, m = lab.loc[df.image_id].to_numpy(), meta.loc[df.image_id]
        design, seen = m.font.map(designs).to_numpy(), m.seen.to_numpy().astype(bool)
        priors = run_priors(Path(run)); tv = valid_taus(Path(run), priors)
        for name, taus in [('tau 0 (argmax)', (0., 0., 0.)), ('tau 1', (1., 1., 1.)), ('tau from validation', tv)]:
            p = adjusted(probs[:3], priors, taus)
            for g in group:
                k = design == g
                rows.append(dict(rule=name, taus=list(taus), design=g, group=grp, seed=seed, run=run,
                                 **{n: round(v, 4) for n, v in design_scores(y[k], p[k], design[k], seen[k]).items()}))
                print(rows[-1], flush=True)
    table = design_table(rows, 'rule')
    table.append(f"\nvalidation's taus (root, vowel, consonant) per run: {sorted({tuple(r['taus']) for r in rows if r['rule'] == 'tau from validation'})}")
    print('\n'.join(table))
    name = a.name or Path(a.result).stem.removeprefix('styles_')
    out = Path(__file__).parent/'results'/f'prior_{name}.json'
    out.write_text(json.dumps(dict(source=str(a.result), taus=TAUS, table=table, runs=rows), indent=1, ensure_ascii=False) + '\n')

if __name__ == '__main__': main()
