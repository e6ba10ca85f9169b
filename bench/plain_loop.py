"""The plain-PyTorch anchor (issue 11): the default `bengali-fa-train` against a plain loop on the same images and time.

For each seed:
1. the library: `train(train_config([*overrides, data.path=<set>]))`, its wall time measured around the call (data
   already generated and preprocessed, so the time is training, per-epoch validation, final scoring and the bundle);
2. a plain PyTorch loop: timm `resnet18` with one input channel and three linear heads, AdamW at the same batch size,
   a one-cycle learning rate driven by the elapsed fraction of the same wall time, light random shifts, no fastai and
   no project code beyond reading the images (the library's preprocessing cache and its training split for the same
   seed, including the rendered extras when the config adds them, so both see the same rows);
3. both scored on the synthetic *test* set (held-out font and graphemes absent from train.csv): the competition score
   on all test images, on seen and unseen graphemes, and on the held-out font alone.

The set is `write_dataset(n_train=<config's data.n_train>, n_test=--n-test, unseen_frac=--unseen-frac, seed=0)`,
cached under $BENGALI_FA_CACHE/bench. Prints a markdown table and writes bench/results/plain_loop.json.

Usage: python bench/plain_loop.py [--seeds 0 1] [--n-test 2000] [-o train.epochs=8 ...] [--plain-lr 3e-3 --plain-bs 32]
       python bench/plain_loop.py --merge seed0.json seed1.json --note 'one process per core' (--out: the merged file)
"""
import argparse, contextlib, io, json, math, os, platform, time
from pathlib import Path
import numpy as np, pandas as pd, torch, torch.nn as nn, torch.nn.functional as F
from sklearn.metrics import recall_score

COMPS = ('grapheme_root', 'vowel_diacritic', 'consonant_diacritic')

def score(y, p) -> float:
    "The competition metric: macro recall per component, weighted 2:1:1"
    r = [recall_score(y[:, k], p[:, k], average='macro', zero_division=0) for k in range(3)]
    return float(np.average(r, weights=[2, 1, 1]))

def test_scores(y, p, meta) -> dict:
    held = meta.font.isin(json.loads((meta.attrs['path']/'synth_info.json').read_text())['test_only_fonts']).to_numpy()
    seen = meta.seen.to_numpy().astype(bool)
    return dict(test=score(y, p), seen=score(y[seen], p[seen]), unseen=score(y[~seen], p[~seen]),
                held_font=score(y[held], p[held]) if held.any() else float('nan'))

def bench_set(folder, n_train:int, n_test:int, unseen_frac:float) -> tuple:
    "A benchmark's synthetic set (seed 0), written into `folder` unless complete there: its path and synth_info.json"
    from bengali_fa.synth import write_dataset
    folder = Path(folder)
    if not (folder/'synth_info.json').is_file():
        write_dataset(folder, n_train=n_train, n_test=n_test, seed=0, unseen_frac=unseen_frac, overwrite=folder.exists(), progress=False)
    return folder, json.loads((folder/'synth_info.json').read_text())

def test_set(path):
    "Test labels (n, 3) and metadata in the row order of the test parquet files"
    sol = pd.read_csv(path/'test_solution.csv')
    sol['image_id'] = sol.row_id.str.rsplit('_', n=2).str[0]
    sol['comp'] = [r[len(i) + 1:] for r, i in zip(sol.row_id, sol.image_id)]
    lab = sol.pivot(index='image_id', columns='comp', values='target')[list(COMPS)]
    meta = pd.read_csv(path/'synth_meta.csv').set_index('image_id')
    meta.attrs['path'] = path
    return lab, meta

# ---- the plain loop: nothing below uses fastai or the library ----
class Plain(nn.Module):
    def __init__(self):
        super().__init__()
        import timm
        self.body = timm.create_model('resnet18', pretrained=False, in_chans=1, num_classes=0)
        self.heads = nn.ModuleList(nn.Linear(self.body.num_features, n) for n in (168, 11, 7))
    def forward(self, x):
        f = self.body(x)
        return [h(f) for h in self.heads]

def shift(x, max_px=4):
    "Random translation of each image by up to `max_px` pixels (zero padding)"
    n, _, h, w = x.shape
    p = F.pad(x, (max_px,) * 4)
    dx, dy = torch.randint(0, 2 * max_px + 1, (2, n))
    return torch.stack([p[i, :, dy[i]:dy[i] + h, dx[i]:dx[i] + w] for i in range(n)])

def plain_loop(x_tr, y_tr, seconds, seed, lr=3e-3, bs=64, wd=1e-2):
    torch.manual_seed(seed); rng = np.random.default_rng(seed)
    mean, std = float(x_tr[:2000].mean()) / 255, float(x_tr[:2000].std()) / 255
    model = Plain()
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=wd)
    t0, steps, epochs = time.perf_counter(), 0, 0
    while True:
        model.train()
        for j, b in enumerate(np.array_split(rng.permutation(len(x_tr)), len(x_tr) // bs)):
            frac = (time.perf_counter() - t0) / seconds
            if frac >= 1: return model, (mean, std), dict(steps=steps, epochs=round(epochs + j / (len(x_tr) // bs), 2))
            # one cycle by elapsed time: linear warm-up over the first 25%, then cosine down to zero
            for g in opt.param_groups: g['lr'] = lr * (frac / .25 if frac < .25 else .5 * (1 + math.cos(math.pi * (frac - .25) / .75)))
            x = shift((torch.from_numpy(x_tr[np.sort(b)]).float()[:, None] / 255 - mean) / std)
            ys = torch.from_numpy(y_tr[np.sort(b)])
            out = model(x)
            loss = sum(w * F.cross_entropy(o, ys[:, k]) for k, (w, o) in enumerate(zip((2, 1, 1), out)))
            opt.zero_grad(); loss.backward(); opt.step(); steps += 1
        epochs += 1

@torch.no_grad()
def plain_predict(model, stats, x, bs=256):
    model.eval(); mean, std = stats
    out = [torch.stack([o.argmax(1) for o in model((torch.from_numpy(x[i:i + bs]).float()[:, None] / 255 - mean) / std)], 1)
           for i in range(0, len(x), bs)]
    return torch.cat(out).numpy()
# ---- end of the plain loop ----

def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--seeds', type=int, nargs='+', default=[0, 1])
    ap.add_argument('--n-test', type=int, default=2000); ap.add_argument('--unseen-frac', type=float, default=0.3)
    ap.add_argument('-o', '--override', action='append', default=[], help='a bengali-fa-train override (repeatable)')
    ap.add_argument('--plain-lr', type=float, default=3e-3)
    ap.add_argument('--plain-bs', type=int, default=0, help='batch size of the plain loop (0: the library config\'s train.bs)')
    ap.add_argument('--name', default='default', help='the row name of the library config in the table')
    ap.add_argument('--skip-plain', action='store_true', help='only the library runs (to compare configs)')
    ap.add_argument('--out', default=str(Path(__file__).parent/'results'/'plain_loop.json'))
    ap.add_argument('--merge', nargs='+', default=[], help='only merge these result files (same config, other seeds) into --out')
    ap.add_argument('--note', default='', help='with --merge: how the runs shared the machine')
    a = ap.parse_args()
    if a.merge: return merge(a.merge, Path(a.out), a.note)
    os.environ.setdefault('BENGALI_FA_CACHE', str(Path('~/.cache/bengali_fa').expanduser()))
    from bengali_fa.train import train, train_config
    from bengali_fa.preprocess import preprocess
    from bengali_fa.data import split_data
    from bengali_fa.predict import predict_parquets
    cfg = train_config(a.override)
    n_train = cfg.data.n_train
    data = Path(os.environ['BENGALI_FA_CACHE'])/'bench'/f'plain_n{n_train}_t{a.n_test}_u{a.unseen_frac}_s0'
    data, info = bench_set(data, n_train, a.n_test, a.unseen_frac)
    lab, meta = test_set(data)
    size = cfg.data.size
    te_files = sorted(data.glob('test_image_data_*.parquet'))
    te = preprocess(te_files, size=size, progress=False)
    y_te = lab.loc[te.ids].to_numpy(); meta_te = meta.loc[te.ids]; meta_te.attrs = meta.attrs
    rows = []
    for s in a.seeds:
        runs = Path(os.environ['BENGALI_FA_CACHE'])/'bench'/'runs'
        # the library's own training rows for this seed (its fold split, and the rendered extras when the config has
        # them); called first so that rendering the extras is cached and not counted in the timed run
        d = cfg.data
        sp = split_data(data, size=size, fold=d.fold, n_folds=d.n_folds, holdout=d.holdout, seed=s, cache_dir=d.cache_dir or None, progress=False,
                        extra_renders=d.extra_renders, extra_graphemes=d.extra_graphemes)
        x, ys, tr = sp.x, sp.targets, sp.train
        tr = np.sort(tr)
        t = time.perf_counter()
        with contextlib.redirect_stdout(io.StringIO()):
            r = train(train_config(a.override + [f'data.path={data}', f'seed={s}', f'runs_dir={runs}']), progress=False)
        lib_s = time.perf_counter() - t
        p = predict_parquets(r['run'], te_files, progress=False, device='cpu').set_index('image_id').loc[te.ids][list(COMPS)].to_numpy()
        rows.append(dict(model=f'bengali_fa ({a.name})', seed=s, seconds=round(lib_s, 1), valid=round(r['score'], 4),
                         epochs=r['epochs_done'], **{k: round(v, 4) for k, v in test_scores(y_te, p, meta_te).items()}))
        print(rows[-1], flush=True)
        if a.skip_plain: continue
        model, stats, st = plain_loop(np.asarray(x[tr]), ys[tr, :3], lib_s, s, a.plain_lr, a.plain_bs or cfg.train.bs)
        p = plain_predict(model, stats, np.array(te.x))
        rows.append(dict(model='plain loop (timm resnet18)', seed=s, seconds=round(lib_s, 1), valid=float('nan'), epochs=st['epochs'],
                         **{k: round(v, 4) for k, v in test_scores(y_te, p, meta_te).items()}))
        print(rows[-1], flush=True)
    write(rows, a.seeds, Path(a.out), dict(overrides=a.override, plain_lr=a.plain_lr, plain_bs=a.plain_bs or cfg.train.bs,
          n_train=n_train, n_test=a.n_test, unseen_frac=a.unseen_frac, train_fonts=info['train_fonts'],
          test_only_fonts=info['test_only_fonts'], machine=machine()))

def machine() -> dict:
    return dict(cpus=os.cpu_count(), torch_threads=torch.get_num_threads(), platform=platform.platform(),
                loadavg_at_end=[round(l, 2) for l in os.getloadavg()])

def write(rows:list, seeds:list, out:Path, info:dict):
    "Print the markdown table of `rows` (mean ± std over seeds per model) and write it with the rows and `info` to `out`"
    df = pd.DataFrame(rows)
    agg = df.groupby('model', sort=False)[['seconds', 'epochs', 'valid', 'test', 'seen', 'unseen', 'held_font']].agg(['mean', 'std'])
    table = ['| model | seeds | seconds | epochs | valid | test | seen | unseen | held-out font |', '|---|---|---|---|---|---|---|---|---|']
    for m, g in agg.iterrows():
        f = lambda k: f"{g[(k, 'mean')]:.3f} ± {g[(k, 'std')]:.3f}" if len(seeds) > 1 else f"{g[(k, 'mean')]:.3f}"
        table.append(f"| {m} | {len(seeds)} | {g[('seconds', 'mean')]:.0f} | {g[('epochs', 'mean')]:.1f} | {f('valid')} | {f('test')} | "
                     f"{f('seen')} | {f('unseen')} | {f('held_font')} |")
    print('\n'.join(table))
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(dict(table=table, runs=rows, **info), indent=1) + '\n')

def merge(files:list, out:Path, note:str):
    "One result file from runs of the same config written separately (e.g. one seed per core): rows concatenated, table redone"
    parts = [json.loads(Path(f).read_text()) for f in files]
    keep = {k: v for k, v in parts[0].items() if k not in ('table', 'runs', 'machine')}
    for f, p in zip(files, parts):
        if {k: v for k, v in p.items() if k in keep} != keep: raise ValueError(f"{f}: another config or set than {files[0]}")
    rows = [r for p in parts for r in p['runs']]
    write(rows, sorted({r['seed'] for r in rows}), out, dict(**keep, machine=dict(parts[0]['machine'], note=note,
          loadavg_at_end=[p['machine']['loadavg_at_end'] for p in parts])))

if __name__ == '__main__': main()
