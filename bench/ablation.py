"""Ablation (issue 6): MixUp, CutMix, both, SWA, EMA and class weights against the baseline, at one small budget.

Every run: the same synthetic set (written once into a cache folder), fold 0, `bengali_learner(arch)` trained from
scratch with the default schedule `fit_bengali(epochs, lr)` (one cycle, every layer at `lr`); model init and loader
shuffle seeded with fastai's `set_seed(seed)`. The score
is the competition's, on the validation fold, of the model as it is after training (for SWA/EMA: the average).
Prints a markdown table of mean and standard deviation over seeds and writes bench/results/ablation.json (after every
run, with "complete": false until the last).
Usage: python bench/ablation.py [--quick] [--n-train 3000 --size 64 --epochs 6 --seeds 0 1 2 --variants baseline mixup]
"""
import argparse, json, os, platform, tempfile, time
from pathlib import Path
import numpy as np, torch
from fastai.torch_core import set_seed
from bengali_fa.synth import write_dataset
from bengali_fa.data import bengali_dls
from bengali_fa.learner import bengali_learner, preds_to_labels
from bengali_fa.metrics import competition_score, macro_recall
from bengali_fa.callback.mix import mix_callback
from bengali_fa.callback.swa import swa_callback

# what each variant changes from the baseline (SWA: start_epoch is set from --epochs below)
VARIANTS = {'baseline': {}, 'mixup': dict(mix='mixup'), 'cutmix': dict(mix='cutmix'), 'both': dict(mix='both'),
            'swa': dict(swa='swa'), 'ema': dict(swa='ema'), 'weights': dict(class_weights='inverse'), 'smooth': dict(label_smoothing=0.1),
            'aux': dict(grapheme=True)}

def dataset(a) -> Path:
    "The synthetic set, rendered once into the cache folder"
    out = Path(a.cache)/f'synth_{a.n_train}_s0'
    if not (out/'synth_info.json').exists(): write_dataset(out, n_train=a.n_train, n_test=10, seed=0, progress=False, n_workers=2)
    return out

def run(src, variant, seed, a) -> dict:
    v = VARIANTS[variant]
    set_seed(seed)  # before the loaders: their shuffle generator is drawn from it
    dls = bengali_dls(src, size=a.size, bs=a.bs, fold=0, grapheme=v.get('grapheme', False), cache_dir=Path(a.cache)/'prep',
                      device='cpu', progress=False)
    learn = bengali_learner(dls, a.arch, class_weights=v.get('class_weights'), label_smoothing=v.get('label_smoothing', 0.))
    cbs = [cb for cb in (mix_callback(v.get('mix', 'none'), alpha=a.alpha),
                         swa_callback(v.get('swa', 'none'), start_epoch=max(a.epochs - a.swa_epochs, 0), decay=a.decay)) if cb]
    t = time.perf_counter()
    with learn.no_bar(), learn.no_logging(): learn.fit_bengali(a.epochs, a.lr, cbs=cbs)
    with learn.no_bar(): preds, targs = learn.get_preds()
    secs = time.perf_counter() - t
    y, p = np.stack([t.numpy() for t in targs[:3]], 1), preds_to_labels(preds)
    return dict(variant=variant, seed=seed, score=competition_score(y, p), root=macro_recall(y[:, 0], p[:, 0]),
                vowel=macro_recall(y[:, 1], p[:, 1]), consonant=macro_recall(y[:, 2], p[:, 2]), seconds=round(secs, 1))

def summary(rows, variants) -> list:
    out, base = [], None
    for v in variants:
        r = [x for x in rows if x['variant'] == v]
        s = {k: (float(np.mean([x[k] for x in r])), float(np.std([x[k] for x in r], ddof=1)) if len(r) > 1 else 0.)
             for k in ('score', 'root', 'vowel', 'consonant', 'seconds')}
        if v == 'baseline': base = s['score'][0]
        out.append(dict(variant=v, n=len(r), **{f'{k}_mean': m for k, (m, _) in s.items()}, **{f'{k}_std': sd for k, (_, sd) in s.items()},
                        delta_score=None if base is None else s['score'][0] - base))
    return out

def table(summ) -> str:
    lines = ['| variant | runs | score | root | vowel | consonant | score - baseline | s/run |', '|---|---|---|---|---|---|---|---|']
    for s in summ:
        f = lambda k: f"{s[k + '_mean']:.4f} ± {s[k + '_std']:.4f}"
        d = '' if s['delta_score'] is None else f"{s['delta_score']:+.4f}"
        lines.append(f"| {s['variant']} | {s['n']} | {f('score')} | {f('root')} | {f('vowel')} | {f('consonant')} | {d} | {s['seconds_mean']:.0f} |")
    return '\n'.join(lines)

if __name__ == '__main__':
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('--quick', action='store_true', help='smoke check: 600 images, 32 px, 1 seed, 2 epochs in all')
    ap.add_argument('--n-train', type=int, default=3000); ap.add_argument('--size', type=int, default=64)
    ap.add_argument('--arch', default='xresnet18'); ap.add_argument('--bs', type=int, default=32)
    ap.add_argument('--epochs', type=int, default=6); ap.add_argument('--lr', type=float, default=1e-2)
    ap.add_argument('--seeds', type=int, nargs='+', default=[0, 1, 2])
    ap.add_argument('--variants', nargs='+', default=['baseline', 'mixup', 'cutmix', 'both', 'swa', 'ema', 'weights', 'smooth', 'aux'], choices=list(VARIANTS))
    ap.add_argument('--alpha', type=float, default=0.4, help='MixUp alpha (CutMix: 1)')
    ap.add_argument('--swa-epochs', type=int, default=2, help='SWA averages the last this many epochs')
    ap.add_argument('--decay', type=float, default=0.99, help='EMA decay per step')
    ap.add_argument('--threads', type=int, default=1, help='torch threads (0: torch default); on a shared, loaded CPU one thread '
                    'is several times faster than two, whose OpenMP workers wait on each other')
    ap.add_argument('--cache', default=str(Path(tempfile.gettempdir())/'bengali_fa_bench'))
    ap.add_argument('--out', default=None, help='JSON file (default bench/results/ablation.json, or ablation_quick.json with --quick)')
    a = ap.parse_args()
    if a.quick: a.n_train, a.size, a.seeds, a.epochs = 600, 32, a.seeds[:1], 2
    if a.threads: torch.set_num_threads(a.threads)
    t0 = time.perf_counter()
    src = dataset(a)
    out = Path(a.out) if a.out else Path(__file__).parent/'results'/('ablation_quick.json' if a.quick else 'ablation.json')
    out.parent.mkdir(exist_ok=True)
    def write(rows, done):
        "Write the results so far (complete: `done`) through a temporary file"
        tmp = out.with_name(out.name + '.tmp')
        tmp.write_text(json.dumps(dict(complete=done, summary=summary(rows, [v for v in a.variants if any(r['variant'] == v for r in rows)]), runs=rows,
                                       config={k: v for k, v in vars(a).items() if k not in ('cache', 'out')} | dict(fold=0, data_seed=0),
                                       total_seconds=round(time.perf_counter() - t0), cpus=os.cpu_count(), torch_threads=torch.get_num_threads(),
                                       machine=platform.platform()), indent=1))
        os.replace(tmp, out)
    rows = []
    for v in a.variants:
        for s in a.seeds:
            rows.append(run(src, v, s, a)); write(rows, False)
            print(f"{v:>9} seed {s}: score {rows[-1]['score']:.4f} ({rows[-1]['seconds']} s)", flush=True)
    write(rows, True)
    print(); print(table(summary(rows, a.variants)))
