"""Unseen graphemes (issue 13): rendered combinations, the auxiliary grapheme head, seen/unseen detection and the prediction policies.

On a synthetic set whose test half shows graphemes absent from train.csv (`write_dataset(n_train, n_test,
unseen_frac=0.5)`, one held-out test font), for every seed train three models of the default `bengali-fa-train` config
at one budget, all validated on a grapheme holdout (`data.holdout`, whole graphemes absent from training):

1. `plain`: the three component heads;
2. `aux`: + the auxiliary grapheme head (`model.grapheme_head=true`);
3. `aux+renders`: + `data.extra_renders=N` renders of unseen combinations (training split only).

Each model predicts the synthetic *test* set (`predict_parquets(..., probs=True)`), its holdout validation images and
fresh renders of its training graphemes (new images of seen graphemes in the train fonts: the seen side of the holdout
AUROC). From the grapheme head: the unseen score (`unseen_score`, 1 - max probability; energy measured alongside), its
threshold calibrated on the holdout (`calibrate_threshold`), and every prediction policy (`combine_heads`) scored on
the test set's seen and unseen graphemes (also with a perfect detector, the ceiling: 'oracle detection'), with the
detector's AUROC on the test set and on the holdout.

Training runs are recorded in <runs>/manifest.json and reused when the same variant and seed are asked for again
(`--train-only` trains without evaluating). Prints a markdown table (mean ± std over seeds) and writes
bench/results/unseen.json with the machine (cpus, torch threads, load average).

Usage: taskset -c 1 python bench/unseen.py [--seeds 0 1] [--n-train 3000] [--n-test 1500] [--extra 1000] [-o train.epochs=4 ...]
"""
import argparse, contextlib, io, json, os, platform, time
from pathlib import Path
import sys
import numpy as np, pandas as pd, torch
sys.path.insert(0, str(Path(__file__).parent))
from plain_loop import bench_set, test_set
VARIANTS = {'plain': [], 'aux': ['model.grapheme_head=true'],
            'aux+renders': ['model.grapheme_head=true', 'data.extra_renders={extra}']}

def bench_score(y, p) -> float:
    "The competition metric: macro recall per component, weighted 2:1:1"
    from sklearn.metrics import recall_score
    r = [recall_score(y[:, k], p[:, k], average='macro', zero_division=0) for k in range(3)]
    return float(np.average(r, weights=[2, 1, 1]))

def test_labels(path, ids):
    "Test labels (n, 3) and `seen` in the order of `ids`"
    lab, meta = test_set(path)
    return lab.loc[ids].to_numpy(), meta.seen.loc[ids].to_numpy().astype(bool)

def train_runs(a, data, over, runs):
    "Train (or reuse) every variant x seed; the manifest maps `variant/seed` to the run folder"
    from bengali_fa.train import train, train_config
    man_f = runs/'manifest.json'
    man = json.loads(man_f.read_text()) if man_f.is_file() else {}
    for s in a.seeds:
        for v in a.variants:
            extra = [o.format(extra=a.extra) for o in VARIANTS[v]]
            key, cfg_over = f'{v}/{s}', over + ['data.extra_renders=0'] + extra + [f'data.path={data}', f'seed={s}', f'runs_dir={runs}']
            if key in man and man[key]['overrides'] == cfg_over and (Path(man[key]['run'])/'bundle'/'bundle.json').is_file(): continue
            t = time.perf_counter()
            with contextlib.redirect_stdout(io.StringIO()):
                r = train(train_config(cfg_over), progress=False)
            man[key] = dict(run=r['run'], overrides=cfg_over, train_seconds=round(time.perf_counter() - t, 1), valid=r['score'],
                            epochs=r['epochs_done'], loadavg=[round(l, 2) for l in os.getloadavg()])
            man_f.write_text(json.dumps(man, indent=1) + '\n')
            print(key, man[key], flush=True)
    return man

@torch.no_grad()
def predict_images(model, x, pre, bs=256):
    "Per-head probabilities and logits of preprocessed uint8 images `x` (n, H, W), normalised as inference does"
    mean, std = pre['mean'], pre['std']
    logits = []
    for i in range(0, len(x), bs):
        xb = (torch.from_numpy(np.asarray(x[i:i + bs])).float().div_(255).unsqueeze(1) - mean) / std
        logits.append([o.float() for o in model(xb)])
    logits = [torch.cat([l[k] for l in logits]) for k in range(len(logits[0]))]
    return [l.softmax(-1).numpy() for l in logits], [l.numpy() for l in logits]

def evaluate(a, data, man, cache):
    from bengali_fa.bundle import load_bundle
    from bengali_fa.predict import predict_parquets, unseen_score, energy_score, calibrate_threshold, combine_heads, POLICIES
    from bengali_fa.data import bengali_dls
    from bengali_fa.extras import render_extras
    from bengali_fa.preprocess import preprocess
    from bengali_fa.labels import train_graphemes
    from sklearn.metrics import roc_auc_score
    te_files = sorted(data.glob('test_image_data_*.parquet'))
    rows = []
    for key, m in sorted(man.items(), key=lambda kv: (list(VARIANTS).index(kv[0].split('/')[0]), int(kv[0].split('/')[1]))):
        v, s = key.split('/'); s = int(s)
        if v not in a.variants or s not in a.seeds: continue
        ev = Path(m['run'])/'unseen_eval.json'  # this evaluation of this run, reused when asked again with the same settings
        ev_key = dict(known_rates=a.known_rates, n_seen_renders=a.n_seen_renders, v=2)
        if ev.is_file() and (old := json.loads(ev.read_text()))['key'] == ev_key: rows += old['rows']; continue
        n0 = len(rows)
        model, meta = load_bundle(m['run'], 'cpu')
        cfg = meta['extra']['config']
        pre = meta['preprocessing']
        df, probs = predict_parquets(model, te_files, pre, progress=False, device='cpu', probs=True)
        y, seen = test_labels(data, df.image_id)
        base = dict(variant=v, seed=s, train_seconds=m['train_seconds'], valid=round(m['valid'], 4), epochs=m['epochs'], run=m['run'])
        if not meta['grapheme_head']:
            p = np.stack([q.argmax(1) for q in probs[:3]], 1)
            rows.append(dict(base, policy='components', test=bench_score(y, p), seen=bench_score(y[seen], p[seen]), unseen=bench_score(y[~seen], p[~seen])))
            print(rows[-1], flush=True)
            ev.write_text(json.dumps(dict(key=ev_key, rows=rows[n0:]), default=float)); continue
        # the holdout validation images (unseen) and fresh renders of the training graphemes (seen)
        dls = bengali_dls(data, size=cfg['data.size'], holdout=cfg['data.holdout'], grapheme=True, seed=s, device='cpu', progress=False,
                          cache_dir=cfg['data.cache_dir'] or None)
        hp, hl = predict_images(model, np.asarray(dls.valid.dataset.x[np.sort(dls.valid_idx)]), pre)
        tr_g = set(dls.labels.grapheme.iloc[np.setdiff1d(np.arange(len(dls.labels)), dls.valid_idx)])
        tg = train_graphemes()
        folder = render_extras(a.n_seen_renders, tg[tg.grapheme.isin(tr_g)].reset_index(drop=True), data, 100 + s, progress=False)
        rc = preprocess(sorted(folder.glob('extra_image_data_*.parquet')), size=cfg['data.size'], progress=False)
        sp, sl = predict_images(model, np.asarray(rc.x[:]), pre)
        tc = preprocess(te_files, size=cfg['data.size'], progress=False)
        tp, tl = predict_images(model, np.asarray(tc.x[:]), pre)
        t_seen = pd.Series(seen, index=df.image_id).loc[tc.ids].to_numpy()
        # detection: msp and energy, AUROC on the holdout (renders of training graphemes vs held-out graphemes) and on the test set
        det = dict(n_holdout=len(hp[3]), n_seen_renders=len(sp[3]))
        for kind, f in (('msp', lambda p, l: unseen_score(p[3])), ('energy', lambda p, l: energy_score(l[3]))):
            hs, ss = f(hp, hl), f(sp, sl)
            det[f'auroc_holdout_{kind}'] = roc_auc_score(np.r_[np.zeros(len(ss)), np.ones(len(hs))], np.r_[ss, hs])
            det[f'auroc_test_{kind}'] = roc_auc_score(~t_seen, f(tp, tl))
        t_msp = unseen_score(probs[3])
        thr = {f'known_rate={q}': calibrate_threshold(unseen_score(hp[3]), q) for q in a.known_rates}
        for k, t in thr.items():
            det[f'thr {k}'] = t
            det[f'test unseen taken as known, {k}'] = float((t_msp[~seen] < t).mean())
            det[f'test seen taken as known, {k}'] = float((t_msp[seen] < t).mean())
        thr['no detection'] = 2.  # every image taken as known (the score is at most 1)
        for pol in POLICIES:
            for k, t in (thr.items() if pol != 'components' else [('', None)]):
                p = combine_heads(probs, pol, t)
                rows.append(dict(base, policy=pol + (f' ({k})' if k else ''), threshold=t, test=bench_score(y, p),
                                 seen=bench_score(y[seen], p[seen]), unseen=bench_score(y[~seen], p[~seen]), **det))
                print({k2: round(rows[-1][k2], 4) if isinstance(rows[-1][k2], float) else rows[-1][k2]
                       for k2 in ('variant', 'seed', 'policy', 'test', 'seen', 'unseen')}, flush=True)
            if pol != 'components':  # the ceiling: a perfect detector (the test set's own seen/unseen labels)
                p = np.where(seen[:, None], combine_heads(probs, pol, 2.), combine_heads(probs, 'components'))
                rows.append(dict(base, policy=pol + ' (oracle detection)', threshold=None, test=bench_score(y, p),
                                 seen=bench_score(y[seen], p[seen]), unseen=bench_score(y[~seen], p[~seen]), **det))
        print(key, {k: round(v, 4) for k, v in det.items()}, flush=True)
        ev.write_text(json.dumps(dict(key=ev_key, rows=rows[n0:]), default=float))
    return rows

def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('--n-train', type=int, default=3000)
    ap.add_argument('--n-test', type=int, default=1500)
    ap.add_argument('--unseen-frac', type=float, default=0.5)
    ap.add_argument('--extra', type=int, default=1000, help='data.extra_renders of the aux+renders variant')
    ap.add_argument('--seeds', type=int, nargs='+', default=[0, 1])
    ap.add_argument('--variants', nargs='+', default=list(VARIANTS), choices=list(VARIANTS))
    ap.add_argument('--known-rates', type=float, nargs='+', default=[0.05, 0.2], help='calibrate_threshold: holdout images allowed below the threshold')
    ap.add_argument('--n-seen-renders', type=int, default=400, help='renders of training graphemes: the seen side of the holdout AUROC')
    ap.add_argument('-o', '--override', action='append', default=None,
                    help='a bengali-fa-train override (repeatable; default: train.epochs=4 data.size=64 data.holdout=0.1)')
    ap.add_argument('--runs', default=None, help='run folders and manifest.json (default: $BENGALI_FA_CACHE/bench/unseen_policy_runs)')
    ap.add_argument('--train-only', action='store_true')
    ap.add_argument('--out', default=str(Path(__file__).parent/'results'/'unseen.json'))
    a = ap.parse_args()
    over = a.override if a.override is not None else ['train.epochs=4', 'data.size=64', 'data.holdout=0.1']
    load0 = os.getloadavg()
    os.environ.setdefault('BENGALI_FA_CACHE', str(Path('~/.cache/bengali_fa').expanduser()))
    cache = Path(os.environ['BENGALI_FA_CACHE'])
    data, _ = bench_set(Path(os.environ.get('BENGALI_FA_BENCH_DATA', cache/'bench'))/f'unseen_n{a.n_train}_t{a.n_test}_u{a.unseen_frac}_s0',
                        a.n_train, a.n_test, a.unseen_frac)
    runs = Path(a.runs or cache/'bench'/'unseen_policy_runs'); runs.mkdir(parents=True, exist_ok=True)
    man = train_runs(a, data, over, runs)
    if a.train_only: return
    rows = evaluate(a, data, man, cache)
    df = pd.DataFrame(rows)
    df['ratio'] = df.unseen / df.seen
    g = df.groupby(['variant', 'policy'], sort=False)
    f = lambda s: f"{s.mean():.3f} ± {s.std():.3f}" if len(s) > 1 else f"{s.mean():.3f}"
    table = ['| variant | policy | seeds | test | seen | unseen | unseen/seen | seen - plain seen | AUROC test (msp) | AUROC test (energy) | AUROC holdout (msp) | AUROC holdout (energy) |',
             '|---|---|---|---|---|---|---|---|---|---|---|---|']
    plain_seen = df.seen[df.variant == 'plain'].mean() if (df.variant == 'plain').any() else float('nan')
    for (v, pol), d in g:
        au = lambda k: f(d[k]) if k in d and d[k].notna().any() else '-'
        table.append(f"| {v} | {pol} | {len(d)} | {f(d.test)} | {f(d.seen)} | {f(d.unseen)} | {f(d.ratio)} | {d.seen.mean() - plain_seen:+.3f} | "
                     f"{au('auroc_test_msp')} | {au('auroc_test_energy')} | {au('auroc_holdout_msp')} | {au('auroc_holdout_energy')} |")
    print('\n'.join(table))
    info = json.loads((data/'synth_info.json').read_text())
    load1 = os.getloadavg()
    out = Path(a.out); out.parent.mkdir(exist_ok=True)
    clean = lambda r: {k: (round(v, 4) if isinstance(v, float) else v) for k, v in r.items()}
    out.write_text(json.dumps(dict(
        table=table, runs=[clean(r) for r in df.to_dict('records')], overrides=over, seeds=a.seeds, n_train=a.n_train, n_test=a.n_test,
        unseen_frac=a.unseen_frac, extra=a.extra, known_rates=a.known_rates, n_seen_renders=a.n_seen_renders,
        train_fonts=info['train_fonts'], test_only_fonts=info['test_only_fonts'],
        machine=dict(cpus=os.cpu_count(), affinity=len(os.sched_getaffinity(0)), torch_threads=torch.get_num_threads(),
                     platform=platform.platform(), loadavg_at_start=[round(l, 2) for l in load0],
                     loadavg_at_end=[round(l, 2) for l in load1])), indent=1, default=float) + '\n')

if __name__ == '__main__': main()
