"""The yardstick of new hands (issue 29): hold out whole font *designs*, train on the others, test on the held-out ones.

A synthetic test set that holds out one font *file* keeps the other weights of its design in training and so measures
a new weight, not a new hand. Here each group of held-out designs gets its own synthetic set
(`write_dataset(holdout_designs=[...], test_fonts='held')`): no file of those designs renders a training image or a
rendered extra, and every test image is drawn in one of them (30% of the test images show graphemes absent from
`train.csv`). For each group and seed:
1. the library: `train(train_config([*preset, *overrides, data.path=<set>]))`, its wall time measured around the call;
2. the plain PyTorch loop of `bench/plain_loop.py` on the same training rows (extras included) for the same time;
3. both scored per held-out design (a variant's `--exclude`, `--render` or `data.n_train` changes its training set only:
   the test images are the preset's set's): the competition score, root / vowel / consonant recall, seen and unseen graphemes,
   and unseen / seen.

Fonts: every working font found (pip, Debian) plus fontsource's designs (`bengali_fa.fonts.FONT_PACKAGES`), which the
script installs into $BENGALI_FA_CACHE/bench/fonts with `install_fonts` when they are not there yet (npm needed once).
Presets: `small` (GATE's budget: 5,000 images and 300 renders at 32 px, 4 epochs; about 3 minutes a run on 2 cores)
for recipe decisions, `default` (README's first command: 8,000 images and 5,000 renders at 64 px, 4 epochs).
Prints a markdown table (mean over seeds per held-out design, then the average over designs) and writes
bench/results/styles_<preset>.json.

Usage: python bench/styles.py [--preset small] [--seeds 0 1] [--groups 'Galada,Noto Serif Bengali' 'Atma,Likhan']
                              [-o data.max_rotate=20 ...] [--name variant] [--skip-plain] [--tta 4]
       python bench/styles.py --preset default --seeds 0 --plain-only bench/results/styles_default.json   (the anchor of runs made with --skip-plain)
"""
import argparse, contextlib, io, json, os, time
from pathlib import Path
import numpy as np, pandas as pd
from sklearn.metrics import recall_score
from plain_loop import COMPS, score, test_set, plain_loop, plain_predict, machine

PRESETS = dict(small=['data.n_train=5000', 'data.size=32', 'data.extra_renders=300', 'train.bs=64', 'train.epochs=4'],
               default=[])
GROUPS = ['Galada,Noto Serif Bengali', 'Atma,Likhan']  # 2 handwriting-like designs, a print serif and a print sans, 2 at a time

def design_scores(y, p, designs, seen) -> dict:
    "Score, per-component recall, seen, unseen and unseen/seen of one held-out design's test images"
    r = {n: recall_score(y[:, k], p[:, k], average='macro', zero_division=0) for k, n in enumerate(('root', 'vowel', 'consonant'))}
    s, u = score(y[seen], p[seen]), score(y[~seen], p[~seen])
    return dict(score=score(y, p), **r, seen=s, unseen=u, ratio=u / s, n=len(y))

def bench_fonts(folder:Path):
    "Install fontsource's Bengali designs into `folder` (once) and make `find_fonts` look there"
    from bengali_fa.fonts import FONT_PACKAGES, install_fonts, package_dir
    os.environ['BENGALI_FA_FONTS'] = str(folder)
    missing = [p for p in FONT_PACKAGES if not (package_dir(p, folder)/'source.json').is_file()]
    if missing:
        failed = {k: v for k, v in install_fonts(missing, folder, progress=False).items() if isinstance(v, Exception)}
        if failed: raise SystemExit('\n'.join(f'cannot install {k}: {v}' for k, v in failed.items()))

def style_set(root:Path, group:list, n_train:int, n_test:int, exclude=(), render=None, tag:str='') -> Path:
    """The set of one held-out group: train images in the other designs (less `exclude`), rendered with `render` (RenderConfig
    overrides); test images in the group's designs (and `exclude`'s, not reported) with the default RenderConfig, so that the
    test images stay the same whatever the training rendering"""
    import hashlib
    from bengali_fa.synth import write_dataset, RenderConfig
    tag = hashlib.sha1(json.dumps([sorted(exclude), render or {}, tag], sort_keys=True).encode()).hexdigest()[:8] if exclude or render or tag else ''
    out = root/f"{'+'.join(g.replace(' ', '') for g in group)}_n{n_train}_t{n_test}_s0{'_' + tag if tag else ''}"
    if not (out/'synth_info.json').is_file():
        write_dataset(out, n_train=n_train, n_test=n_test, seed=0, unseen_frac=0.3, holdout_designs=[*group, *exclude], test_fonts='held',
                      overwrite=out.exists(), progress=False, n_workers=2, cfg=RenderConfig(**(render or {})), test_cfg=RenderConfig())
    return out

def result_runs(result) -> list:
    """The library's runs of a result file of this script, each `(group, seed, run folder, test folder, labels, meta, designs)`:
    the held-out designs' test set it was scored on, its test labels and metadata (`test_set`), and the font -> design map"""
    from bengali_fa.train import train_config
    os.environ.setdefault('BENGALI_FA_CACHE', str(Path('~/.cache/bengali_fa').expanduser()))
    os.environ['BENGALI_FA_FONTS'] = str(Path(os.environ['BENGALI_FA_CACHE'])/'bench'/'fonts')
    res = json.loads(Path(result).read_text())
    root = Path(os.environ['BENGALI_FA_CACHE'])/'bench'/'styles'
    n_set = res.get('test_n_train') or train_config(PRESETS[res['preset']]).data.n_train  # the set whose test images were scored
    runs = sorted({(r['group'], r['seed'], r['run']) for r in res['runs'] if r.get('run') and ', tta' not in r['model']})
    if not runs: raise SystemExit(f"{result}: no library run folders (rows without 'run': made before this script recorded them)")
    out = []
    for grp, seed, run in runs:
        test = style_set(root, [g.strip() for g in grp.split(',')], n_set, res['n_test'])
        out.append((grp, seed, run, test, *test_set(test), json.loads((test/'synth_info.json').read_text())['designs']))
    return out

def held_out_set(group:list, n_train:int, n_test:int, size:int=32) -> tuple:
    "`(root, data, test)`: the set that holds out the designs of `group`, and its test images as `(files, ids, labels, design, seen)`"
    from bengali_fa.preprocess import preprocess
    os.environ.setdefault('BENGALI_FA_CACHE', str(Path('~/.cache/bengali_fa').expanduser()))
    root = Path(os.environ['BENGALI_FA_CACHE'])/'bench'/'styles'
    bench_fonts(Path(os.environ['BENGALI_FA_CACHE'])/'bench'/'fonts')
    data = style_set(root, group, n_train, n_test)
    info = json.loads((data/'synth_info.json').read_text())
    lab, meta = test_set(data)
    files = sorted(data.glob('test_image_data_*.parquet'))
    ids = preprocess(files, size=size, progress=False).ids
    m = meta.loc[ids]
    test = (files, ids, lab.loc[ids].to_numpy(), m.font.map(info['designs']).to_numpy(), m.seen.to_numpy().astype(bool))
    assert set(test[3]) <= set(group), f"test images in designs {set(test[3]) - set(group)}"
    return root, data, test

def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--preset', choices=list(PRESETS), default='small')
    ap.add_argument('--seeds', type=int, nargs='+', default=[0, 1])
    ap.add_argument('--groups', nargs='+', default=GROUPS, help='held-out designs, comma-separated, one group per training')
    ap.add_argument('--n-test', type=int, default=1000)
    ap.add_argument('-o', '--override', action='append', default=[], help='a bengali-fa-train override after the preset (repeatable)')
    ap.add_argument('--name', default='default', help='the row name of the library config in the table')
    ap.add_argument('--skip-plain', action='store_true', help='only the library runs (to compare configs)')
    ap.add_argument('--exclude', default='', help='designs never trained on (comma-separated), e.g. to measure what they add')
    ap.add_argument('--train-tag', default='', help='render a training set of its own under this name (the code of now: a changed generator)')
    ap.add_argument('--render', nargs='*', default=[], help="RenderConfig overrides of the training images, e.g. pen='(-0.5,1.5)' pressure=0.4")
    ap.add_argument('--plain-only', default='', help="a result file with the library's runs: run only the plain loop, each (group, seed) for the library's seconds there, and write both")
    ap.add_argument('--out', default='', help='result file (default: bench/results/styles_<preset>[_<name>].json)')
    ap.add_argument('--tta', type=int, default=0, help="also score the library's model with this many test-time views (a row of its own)")
    a = ap.parse_args()
    os.environ.setdefault('BENGALI_FA_CACHE', str(Path('~/.cache/bengali_fa').expanduser()))
    root = Path(os.environ['BENGALI_FA_CACHE'])/'bench'/'styles'
    bench_fonts(Path(os.environ['BENGALI_FA_CACHE'])/'bench'/'fonts')
    from bengali_fa.train import train, train_config
    from bengali_fa.preprocess import preprocess
    from bengali_fa.data import split_data
    from bengali_fa.predict import predict_parquets
    from bengali_fa.fonts import find_fonts, font_designs
    overrides = PRESETS[a.preset] + a.override
    cfg = train_config(overrides)
    d, rows = cfg.data, []
    n_test_set = train_config(PRESETS[a.preset]).data.n_train  # the test images are the preset's set's, whatever data.n_train a variant trains on
    designs_found = list(font_designs(find_fonts(quiet=True)[0]))
    prev = json.loads(Path(a.plain_only).read_text())['runs'] if a.plain_only else []
    for grp in a.groups:
        group = [g.strip() for g in grp.split(',')]
        exclude = [e.strip() for e in a.exclude.split(',') if e.strip()]
        render = {k: (tuple(v) if isinstance(v, list) else v) for k, v in (kv.split('=', 1) for kv in a.render) for v in [eval(v)]}
        test_data = style_set(root, group, n_test_set, a.n_test)  # the group's test images: the same for every variant
        # a variant's training set: the same graphemes and labels, other fonts (exclude) or rendering (render), or more images
        other = exclude or render or a.train_tag or d.n_train != n_test_set
        data = style_set(root, group, d.n_train, 10, exclude, render, a.train_tag) if other else test_data
        info = json.loads((test_data/'synth_info.json').read_text())
        lab, meta = test_set(test_data)
        te_files = sorted(test_data.glob('test_image_data_*.parquet'))
        te = preprocess(te_files, size=d.size, progress=False)
        y_te, meta_te = lab.loc[te.ids].to_numpy(), meta.loc[te.ids]
        design = meta_te.font.map(info['designs']).to_numpy(); seen = meta_te.seen.to_numpy().astype(bool)
        assert set(design) <= set(group), f"test images in designs {set(design) - set(group)}"
        if d.n_train == n_test_set: assert (pd.read_csv(data/'train.csv').values == pd.read_csv(test_data/'train.csv').values).all()  # same labels
        for s in a.seeds:
            lib_rows = [r for r in prev if r['group'] == grp and r['seed'] == s]
            if a.plain_only and not lib_rows: raise SystemExit(f'{a.plain_only} has no run of group {grp!r}, seed {s}')
            sp = split_data(data, size=d.size, fold=d.fold, n_folds=d.n_folds, holdout=d.holdout, seed=s, cache_dir=d.cache_dir or None, progress=False,
                            extra_renders=d.extra_renders, extra_graphemes=d.extra_graphemes)
            x, ys, tr = sp.x, sp.targets, sp.train
            tr = np.sort(tr)
            if a.plain_only: rows += lib_rows; lib_s, preds, run = lib_rows[0]['seconds'], {}, ''
            else:
                t = time.perf_counter()
                with contextlib.redirect_stdout(io.StringIO()):
                    r = train(train_config(overrides + [f'data.path={data}', f'seed={s}', f'runs_dir={root/"runs"}']), progress=False)
                lib_s = time.perf_counter() - t
                run = str(r['run'])
                lib_pred = lambda tta: (predict_parquets(r['run'], te_files, progress=False, device='cpu', tta=tta)
                                        .set_index('image_id').loc[te.ids][list(COMPS)].to_numpy(), r['epochs_done'])
                preds = {f'bengali_fa ({a.name})': lib_pred(0), **({f'bengali_fa ({a.name}, tta {a.tta})': lib_pred(a.tta)} if a.tta > 1 else {})}
            if not a.skip_plain:
                model, stats, st = plain_loop(np.asarray(x[tr]), ys[tr, :3], lib_s, s, 3e-3, cfg.train.bs)
                preds['plain loop (timm resnet18)'] = (plain_predict(model, stats, np.array(te.x)), st['epochs'])
            for m, (p, ep) in preds.items():
                for g in group:
                    k = design == g
                    rows.append(dict(model=m, design=g, group=grp, seed=s, seconds=round(lib_s, 1), epochs=ep, run=run if m.startswith('bengali_fa') else '',
                                     **{n: round(v, 4) for n, v in design_scores(y_te[k], p[k], design[k], seen[k]).items()}))
                    print(rows[-1], flush=True)
    out = Path(a.out or Path(__file__).parent/'results'/f"styles_{a.preset}{'' if a.name == 'default' else '_' + a.name}.json")
    write(rows, out, dict(preset=a.preset, overrides=overrides, exclude=a.exclude, render=a.render, n_test=a.n_test, test_n_train=n_test_set, unseen_frac=0.3, groups=a.groups,
                          designs=designs_found, machine=machine()))

def from_log(log, out:Path, info:dict):
    "Rebuild the result file from the rows a run printed (one dict per line)"
    import ast
    rows = [ast.literal_eval(l) for l in Path(log).read_text().splitlines() if l.startswith("{'model'")]
    for r in rows:  # a first version printed consonant recall as 'diacritic' and no vowel recall: the score gives it back
        if 'diacritic' in r: r['consonant'] = r.pop('diacritic'); r['vowel'] = round(4 * r['score'] - 2 * r['root'] - r['consonant'], 4)
    write(rows, out, info)

SCORES = ['score', 'root', 'vowel', 'consonant', 'seen', 'unseen', 'ratio']

def design_table(rows, by:str, extra:dict=None) -> list:
    "Markdown lines: per value of `by` (in order of first appearance), the mean over seeds per held-out design, then the mean of designs; `extra` maps more columns to (header, format)"
    extra = extra or {}
    head = [by, 'held-out design', *(h for h, _ in extra.values()), 'score', 'root', 'vowel', 'consonant', 'seen', 'unseen', 'unseen/seen']
    out = ['| ' + ' | '.join(head) + ' |', '|' + '---|' * len(head)]
    for k, g in pd.DataFrame(rows).groupby(by, sort=False):
        per = g.groupby('design', sort=False)[[*extra, *SCORES]].mean()
        for des, r in pd.concat([per, per.mean().to_frame('**mean of designs**').T]).iterrows():
            out.append(f'| {k} | {des} | ' + ''.join(f'{r[c]:{f}} | ' for c, (_, f) in extra.items()) + ' | '.join(f'{r[c]:.3f}' for c in SCORES) + ' |')
    return out

def write(rows, out:Path, info:dict):
    "Print the table (mean over seeds per model and held-out design, then the mean over designs) and write it with the rows"
    table = design_table(rows, 'model', {'seconds': ('seconds', '.0f'), 'epochs': ('epochs', '.1f')})
    print('\n'.join(table))
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(dict(table=table, runs=rows, **info), indent=1, ensure_ascii=False) + '\n')

if __name__ == '__main__': main()
