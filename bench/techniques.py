"""Budget curves of the seed's techniques (issue 31): yardstick score against training epochs, the baseline and each technique alone.

The set is `bench/styles.py`'s: one group of held-out font *designs* (default Galada, a handwriting-like design, and Noto
Serif Bengali), no file of them in training or in the rendered extras, every test image drawn in one of them, 30% of the
test images graphemes absent from `train.csv`. Every run is the training app itself, `train(train_config(overrides))`
(schedule, mixed precision and callbacks as a user gets them), with the small preset below plus the variant's
overrides and `train.epochs=E`, then `predict_parquets` on the held-out designs' test images. Runs go budget by budget
(the short end first), so a stopped run still leaves whole budgets. Prints a table (mean ± sd over seeds, and the
difference to the baseline at the same budget, of the means and seed by seed), writes bench/results/techniques.json after every run and, at the end,
bench/results/techniques.png (score against epochs, one line per technique).

Usage: python bench/techniques.py [--epochs 4 12 36] [--seeds 0 1] [--variants baseline mixup cutmix ...] [--threads 1] [--resume]
       python bench/techniques.py --size 64 --variants baseline lite0 lite0_imagenet --out bench/results/techniques_64px.json
                                                (the pretrained arm: Lite0's ImageNet weights fine-tuned, the same body from scratch, xresnet18)
       python bench/techniques.py --quick      (a smoke check: 300 images, 1 epoch, 2 variants)
       python bench/techniques.py --plot-only   (the table and picture from bench/results/techniques.json)
"""
import argparse, contextlib, io, json, time
from pathlib import Path
import numpy as np, pandas as pd, torch
from plain_loop import COMPS, machine
from styles import held_out_set, design_scores

def preset(size=32) -> list:
    "The small preset of the curves, at `size` px"
    return [f'data.size={size}', 'train.bs=64', 'data.extra_renders=300']
VARIANTS = {'baseline': [], 'mixup': ['aug=mixup'], 'cutmix': ['aug=cutmix'], 'both': ['aug=both'], 'swa': ['swa=swa'],
            'ema': ['swa=ema'], 'weights': ['model.class_weights=inverse'], 'smooth': ['model.label_smoothing=0.1'],
            'aux': ['model.grapheme_head=true'],
            'cutmix_a02': ['aug=cutmix', 'aug.cut_alpha=0.2'],  # less CutMix: most boxes tiny or the whole image (default Beta(1, 1))
            'cutmix_ink': ['aug=cutmix', 'aug.cut_lam=ink'],  # the labels weighted by the share of ink, not of area
            # mixing switched off for the last quarter of the epochs (aug.stop_epochs), so that the model ends on whole graphemes
            'mixup_stop': ['aug=mixup', 'aug.stop_epochs={quarter}'], 'cutmix_stop': ['aug=cutmix', 'aug.stop_epochs={quarter}'],
            # the pretrained arm (run it with --size 64: at 32 px a stride-32 body sees a 1x1 map); both at Lite0's rate of bench/pretrained.py
            'lite0': ['model=tf_efficientnet_lite0', 'train.lr=4e-3'],  # the same body from scratch (one cycle)
            'lite0_imagenet': ['model=tf_efficientnet_lite0', 'train.lr=4e-3', 'model.pretrained={lite0}', 'train.freeze_epochs=1']}  # fine_tune: 1 frozen epoch, then E-1 (discriminative rates)

def variant_overrides(variant, epochs, root:Path) -> list:
    "`variant`'s overrides at `epochs` (`{quarter}`: epochs // 4); a fine-tune spends one of them frozen, so every arm sees the same number of epochs"
    ov = [o.replace('{quarter}', str(max(1, epochs // 4))) for o in VARIANTS[variant]]
    if not any(o.startswith('model.pretrained=') for o in ov): return [*ov, f'train.epochs={epochs}']
    from pretrained import weights_file
    return [o.format(lite0=weights_file(root)) for o in ov] + [f'train.epochs={epochs - 1}']

def run(data, test, variant, epochs, seed, a, root) -> list:
    "One training of `variant` for `epochs`: a row per held-out design and one for their mean"
    from bengali_fa.train import train, train_config
    from bengali_fa.predict import predict_parquets
    files, ids, y, design, seen = test
    ov = [*preset(a.size), *variant_overrides(variant, epochs, root), f'seed={seed}', f'data.path={data}', f'runs_dir={root/"runs"}',
          f'data.n_train={a.n_train}']
    t = time.perf_counter()
    with contextlib.redirect_stdout(io.StringIO()): r = train(train_config(ov), progress=False)
    secs = time.perf_counter() - t
    p = predict_parquets(r['run'], files, progress=False, device='cpu').set_index('image_id').loc[ids][list(COMPS)].to_numpy()
    rows = [dict(variant=variant, epochs=epochs, seed=seed, design=g, seconds=round(secs, 1),
                 **{n: round(v, 4) for n, v in design_scores(y[design == g], p[design == g], None, seen[design == g]).items()})
            for g in sorted(set(design))]
    rows.append(dict(variant=variant, epochs=epochs, seed=seed, design='mean', seconds=round(secs, 1),
                     **{k: round(float(np.mean([r[k] for r in rows])), 4) for k in ('score', 'root', 'vowel', 'consonant', 'seen', 'unseen', 'ratio')}))
    return rows

def summary(rows) -> pd.DataFrame:
    "Mean and sd over seeds of the designs' mean, per variant and budget, and the difference to the baseline with the same seed (each seed's, and their mean)"
    df = pd.DataFrame([r for r in rows if r['design'] == 'mean'])
    g = df.groupby(['variant', 'epochs'], sort=False)
    s = g[['score', 'root', 'unseen', 'ratio', 'seconds']].mean().join(g.score.std(ddof=1).rename('score_sd')).join(g.size().rename('n')).reset_index()
    b = df[df.variant == 'baseline'].set_index(['epochs', 'seed']).score
    df['paired'] = [r.score - b.get((r.epochs, r.seed), np.nan) for r in df.itertuples()]
    by = {k: v.sort_values('seed').paired.dropna().to_numpy() for k, v in df.groupby(['variant', 'epochs'])}
    s['deltas'] = [by[(r.variant, r.epochs)] for r in s.itertuples()]
    s['delta'] = [d.mean() if len(d) else np.nan for d in s.deltas]
    s['paired'] = [' '.join(f'{d:+.3f}' for d in ds) for ds in s.deltas]
    s['base_sd'] = s.epochs.map(s[s.variant == 'baseline'].set_index('epochs').score_sd)
    return s

def table(s:pd.DataFrame) -> list:
    out = ['| technique | epochs | runs | score | root | unseen | unseen/seen | score - baseline (same seeds) | seed by seed | s/run |',
           '|---|---|---|---|---|---|---|---|---|---|']
    for _, r in s.sort_values(['epochs'], kind='stable').iterrows():
        base = r.variant == 'baseline'
        d = '' if base or pd.isna(r.delta) else f'{r.delta:+.3f}'
        out.append(f"| {r.variant} | {r.epochs} | {r.n} | {r.score:.3f} ± {0 if pd.isna(r.score_sd) else r.score_sd:.3f} | {r.root:.3f} | "
                   f"{r.unseen:.3f} | {r.ratio:.3f} | {d} | {'' if base else r.paired} | {r.seconds:.0f} |")
    return out

def picture(s:pd.DataFrame, out:Path):
    "Left: the baseline's score against epochs; right: each technique's difference to the baseline with the same seed (mean, and each seed)"
    import matplotlib; matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    fig, (a0, a1) = plt.subplots(1, 2, figsize=(11, 4.5))
    ticks = sorted(s.epochs.unique())
    base = s[s.variant == 'baseline'].sort_values('epochs')
    a0.errorbar(base.epochs, base.score, yerr=base.score_sd.fillna(0), marker='o', capsize=3, lw=2.5, color='k')
    a0.set_ylabel('baseline score on held-out designs (mean ± sd over seeds)')
    for k, (v, g) in enumerate((v, g) for v, g in s.groupby('variant', sort=False) if v != 'baseline'):
        g = g.sort_values('epochs'); c = f'C{k}'
        a1.plot(g.epochs, g.delta, marker='o', label=v, color=c)
        for e, ds in zip(g.epochs, g.deltas): a1.scatter([e] * len(ds), ds, s=10, color=c, alpha=0.5)
    a1.axhline(0, color='k', lw=1); a1.set_ylabel('score - baseline, same seed (line: mean; dots: seeds)'); a1.legend(fontsize=8)
    for ax in (a0, a1):
        ax.set_xscale('log'); ax.set_xticks(ticks); ax.set_xticklabels(ticks); ax.minorticks_off()
        ax.set_xlabel('epochs (one cycle each)'); ax.grid(alpha=.3)
    fig.suptitle('bench/techniques.py: held-out font designs', fontsize=11)
    fig.tight_layout(); fig.savefig(out, dpi=100); plt.close(fig)

def report(res:dict, out:Path):
    s = summary(res['runs'])
    res['table'] = table(s)
    print('\n'.join(res['table']), flush=True)
    picture(s, out.with_suffix('.png'))

def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--group', default='Galada,Noto Serif Bengali', help='held-out designs, comma-separated')
    ap.add_argument('--n-train', type=int, default=2000); ap.add_argument('--n-test', type=int, default=1000)
    ap.add_argument('--epochs', type=int, nargs='+', default=[4, 12, 36])
    ap.add_argument('--seeds', type=int, nargs='+', default=[0, 1])
    ap.add_argument('--variants', nargs='+', default=['baseline', 'mixup', 'cutmix', 'swa', 'ema', 'weights', 'aux'], choices=list(VARIANTS))
    ap.add_argument('--size', type=int, default=32, help='image size of the preset (the pretrained arm: 64)')
    ap.add_argument('--threads', type=int, default=0, help='torch threads (0: the default)')
    ap.add_argument('--quick', action='store_true', help='smoke check: 300 images, 100 test images, 1 epoch, baseline and cutmix, 1 seed')
    ap.add_argument('--plot-only', action='store_true', help='print the table and draw the picture of the result file')
    ap.add_argument('--resume', action='store_true', help='keep the runs already in the result file and skip them')
    ap.add_argument('--out', default='', help='result file (default bench/results/techniques.json; --quick: techniques_quick.json)')
    a = ap.parse_args()
    out = Path(a.out or Path(__file__).parent/'results'/('techniques_quick.json' if a.quick else 'techniques.json'))
    if a.plot_only: return report(json.loads(out.read_text()), out)
    if a.quick: a.n_train, a.n_test, a.epochs, a.seeds, a.variants = 300, 100, [1], [0], ['baseline', 'cutmix']
    if a.threads: torch.set_num_threads(a.threads)
    group = [g.strip() for g in a.group.split(',')]
    root, data, test = held_out_set(group, a.n_train, a.n_test)
    res = dict(complete=False, preset=preset(a.size), variants={v: VARIANTS[v] for v in a.variants}, group=group, n_train=a.n_train, n_test=a.n_test,
               epochs=a.epochs, seeds=a.seeds, runs=[], machine=machine())
    if a.resume and out.exists():  # every run already there is kept (other variants and budgets too)
        old = json.loads(out.read_text())
        if old['preset'] != res['preset']: raise SystemExit(f"{out}: its runs were made with {old['preset']}, not {res['preset']}: give another --out")
        res = {**old, **res, 'runs': old['runs'], 'variants': {**old['variants'], **res['variants']}}  # its notes kept too
    done = {(r['variant'], r['epochs'], r['seed']) for r in res['runs']}
    t0 = time.perf_counter()
    for e in a.epochs:
        for s in a.seeds:
            for v in a.variants:
                if (v, e, s) in done: continue
                res['runs'] += run(data, test, v, e, s, a, root)
                r = res['runs'][-1]
                print(f"{v:>12} {e:>3} epochs seed {s}: score {r['score']:.4f} root {r['root']:.4f} unseen {r['unseen']:.4f} ({r['seconds']:.0f} s)", flush=True)
                res.update(total_seconds=round(time.perf_counter() - t0), machine=machine())
                out.write_text(json.dumps(res, indent=1) + '\n')
    res['complete'] = True
    report(res, out)
    out.write_text(json.dumps(res, indent=1) + '\n')

if __name__ == '__main__': main()
