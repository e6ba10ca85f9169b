"""The learning gate's mutation table: each plausible silent bug applied to a copy of the repository, then the gate
notebook (nbs/97_learning_gate.ipynb) run on it with `nbdev-test`, and, where the gate misses, the notebooks whose tests
should catch it. Records, for each mutation, whether CI would fail, which check failed first and the seconds it took.
An unmutated copy runs first as a control: it must pass.

Writes bench/results/mutations.json and prints the table.

Usage:
  python bench/mutations.py                 # every mutation, two at a time (one torch thread each)
  python bench/mutations.py --only tta_logits labels_off_by_one --jobs 1
"""
import argparse, json, os, platform, re, shutil, subprocess, sys, tempfile, time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT/'bench'/'results'/'mutations.json'
GATE_NB = 'nbs/97_learning_gate.ipynb'

# name: (what it does, file in the package, text, its replacement (exactly one occurrence; or lists of both), notebooks to run if
# the gate misses it[, 'harmless': a change that two guards make harmless, where one is undone and the other holds: CI should pass])
MUTATIONS = {
    'heads_swapped': ("the loader gives the vowel head the consonant's targets and the consonant head the vowel's",
        'data.py', "ys = y[list(COMPONENTS) + (['grapheme_idx'] if grapheme else [])].to_numpy()",
        "ys = y[[COMPONENTS[0], COMPONENTS[2], COMPONENTS[1]] + (['grapheme_idx'] if grapheme else [])].to_numpy()", []),
    'labels_shifted_rows': ("each batch's labels are those of the image next to it in the cache (images and labels one row apart)",
        'data.py', "TensorCategory(torch.from_numpy(self.ys[j, k]))", "TensorCategory(torch.from_numpy(self.ys[(j + 1) % len(self.ys), k]))", []),
    'valid_augmented': ("validation batches get the training augmentation (its transforms in their pipeline, with training's split_idx)",
        'data.py', ["aug and train, max_rotate", "split_idx=int(not train)"], ["aug, max_rotate", "split_idx=0"], []),
    'valid_split_idx_only': ("the validation pipeline gets training's split_idx (harmless: it holds no augmentation to apply)",
        'data.py', "split_idx=int(not train)", "split_idx=0", [], 'harmless'),
    'train_polarity_inverted': ("training batches are normalised with the ink polarity inverted (std negated); validation and prediction are not",
        'data.py', "batch_tfms(size, pre['mean'], pre['std'], aug and train", "batch_tfms(size, pre['mean'], pre['std'] * (-1 if train else 1), aug and train", []),
    'stats_wrong_scale': ("normalisation statistics measured on the 0..255 scale where batches are on 0..1",
        'data.py', "s = np.asarray(x[i], np.float32) / 255", "s = np.asarray(x[i], np.float32)", []),
    'body_lr_div100': ("the stem and body learn at 1/100 of the heads' rate in the one-cycle schedule",
        'learner.py', "return [('all', epochs, dict(lr_max=lr, pct_start=pct_start))]", "return [('all', epochs, dict(lr_max=[lr / 100, lr / 100, lr], pct_start=pct_start))]", ['nbs/09_learner.ipynb']),
    'body_frozen': ("every phase trains with the body frozen: the residual blocks' last BatchNorm (zero-initialised) stays where it starts",
        'train.py', "learn.freeze() if name == 'frozen' else learn.unfreeze()", "learn.freeze()", []),
    'extras_in_valid': ("the rendered extras are validated on too",
        'data.py', "return x, y, ys, tr, np.flatnonzero(valid), ex, folder,", "return x, y, ys, tr, np.concatenate([np.flatnonzero(valid), ex]), ex, folder,", []),
    'crop_axes_swapped': ("the ink box's axes are swapped (rows cropped with the column range and columns with the row range)",
        'data.py', "box = np.stack([y0, y1, x0, x1], 1)", "box = np.stack([x0, x1, y0, y1], 1)", ['nbs/03_data.ipynb']),
    'mixup_at_validation': ("MixUp/CutMix also run on validation batches (run_valid) and mix them",
        'callback/mix.py', ["run_valid, order = False", "self.mixing = self.training and self.epoch"], ["run_valid, order = True", "self.mixing = self.epoch"], []),
    'mix_training_check_only': ("the mixing callback drops its training check (harmless: fastai never runs it on validation, run_valid=False)",
        'callback/mix.py', "self.mixing = self.training and self.epoch", "self.mixing = self.epoch", [], 'harmless'),
    'vowel_class_off_by_one': ("the vowel labels are shifted by one class in the loader (the class map of one head off by one)",
        'data.py', "ys = y[list(COMPONENTS) + (['grapheme_idx'] if grapheme else [])].to_numpy()",
        "ys = y[list(COMPONENTS) + (['grapheme_idx'] if grapheme else [])].to_numpy(); ys[:, 1] = (ys[:, 1] + 1) % 11", []),
    'tta_logits_averaged': ("prediction averages the TTA views' logits and then takes the softmax (the code averages probabilities)",
        'predict.py', "o.float().softmax(-1).view(len(views), len(x), -1).mean(0)", "o.float().view(len(views), len(x), -1).mean(0).softmax(-1)", ['nbs/12_predict.ipynb']),
    'metric_micro': ("the recall metric counts images (accuracy) instead of averaging classes (macro recall)",
        'metrics.py', "return float(rec[present].mean())", "return float(tp.sum() / support.sum())", []),
    'root_head_unweighted': ("the loss leaves out the root head (its weight 0 instead of 2)",
        'loss.py', "per = per + self.head_weights[k] * l", "per = per + (0 if k == 0 else self.head_weights[k]) * l", []),
    'no_shuffle': ("training batches come in file order, never shuffled",
        'data.py', "bs=bs, shuffle=train, drop_last=train", "bs=bs, shuffle=False, drop_last=train", []),
}

def copy_repo(dest:Path):
    for d in ('nbs', 'bengali_fa', 'bench', 'tools'): shutil.copytree(ROOT/d, dest/d, ignore=shutil.ignore_patterns('__pycache__', '_proc', '*.pyc'))
    for f in ('pyproject.toml', 'README.md'): shutil.copy(ROOT/f, dest/f)

def apply(dest:Path, file, old, new):
    "Replace `old` by `new` in the package file `file` of `dest` (lists: each pair in turn); each must occur exactly once"
    p = dest/'bengali_fa'/file
    s = p.read_text()
    for o, n in zip(*((old, new) if isinstance(old, list) else ([old], [new]))):
        if s.count(o) != 1: raise SystemExit(f"{p}: the text to mutate occurs {s.count(o)} times (expected once): {o!r}")
        s = s.replace(o, n)
    p.write_text(s)

def failure(out:str) -> str:
    "The failing line of the notebook and its error, on one line"
    lines = out[out.rfind('While Executing Cell'):].splitlines()  # nbdev's report of the failing cell (earlier output may hold tracebacks)
    code = [lines[i + 1].strip() for i, l in enumerate(lines[:-1]) if "<ipython-input-" in l]  # the failing line of the cell (first), then of functions it called
    errs = [l.strip() for l in lines if re.match(r'^\s*\w*(Error|Exception)\b', l.strip()) and not l.strip().startswith('warnings.')]
    return ' | '.join(x for x in ((code[0] if code else ''), (errs[-1] if errs else '')) if x)[:400]

def run_nb(dest:Path, nb:str, threads:int) -> tuple:
    env = {**os.environ, 'PYTHONPATH': str(dest), 'OMP_NUM_THREADS': str(threads), 'WANDB_MODE': 'disabled', 'MPLBACKEND': 'Agg'}
    t = time.perf_counter()
    p = subprocess.run(['nbdev-test', nb, '--n-workers', '0'], cwd=dest, env=env, capture_output=True, text=True)
    return p.returncode, round(time.perf_counter() - t, 1), p.stdout + p.stderr

def one(name, threads, tmp:Path) -> dict:
    dest = tmp/name; copy_repo(dest)
    what, file, old, new, more, *expect = MUTATIONS.get(name, ('no mutation', None, None, None, [], 'harmless'))
    if file: apply(dest, file, old, new)
    env = {**os.environ, 'PYTHONPATH': str(dest)}
    where = subprocess.run([sys.executable, '-c', 'import bengali_fa; print(bengali_fa.__file__)'], cwd=dest, env=env, capture_output=True, text=True).stdout.strip()
    if not where.startswith(str(dest)): raise SystemExit(f"the copy is not the package imported ({where})")
    row, total = dict(mutation=name, what=what, expect=(expect or ['caught'])[0], caught_by=None, message='', checks=[]), 0.
    for nb in [GATE_NB, *more]:
        rc, sec, out = run_nb(dest, nb, threads)
        total += sec
        row['checks'].append(dict(notebook=nb, failed=rc != 0, seconds=sec))
        if rc != 0: row.update(caught_by=nb, message=failure(out)); break
    row.update(caught=row['caught_by'] is not None, seconds=round(total, 1))
    print(f"{name}: {'caught by ' + row['caught_by'] if row['caught'] else 'passes' if row['expect'] == 'harmless' else 'MISSED'} in {total:.0f} s {row['message'][:160]}", flush=True)
    shutil.rmtree(dest, ignore_errors=True)
    return row

def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--only', nargs='+', choices=list(MUTATIONS)); ap.add_argument('--jobs', type=int, default=2)
    ap.add_argument('--no-control', action='store_true', help='skip the unmutated run'); ap.add_argument('--out', default=str(OUT))
    a = ap.parse_args()
    names = ([] if a.no_control else ['control']) + (a.only or list(MUTATIONS))
    threads = max(1, (os.cpu_count() or 1) // a.jobs)
    tmp = Path(tempfile.mkdtemp(prefix='bengali_fa_mutations_'))
    t = time.perf_counter()
    try:
        with ThreadPoolExecutor(a.jobs) as ex: rows = list(ex.map(lambda n: one(n, threads, tmp), names))
    finally: shutil.rmtree(tmp, ignore_errors=True)
    print('| mutation | caught by | seconds | first failure |\n|---|---|---|---|')
    for r in rows: print(f"| {r['mutation']} | {r['caught_by'] or ('passes (as expected)' if r['expect'] == 'harmless' else 'MISSED')} | {r['seconds']:.0f} | {r['message'][:120]} |")
    res = dict(rows=rows, jobs=a.jobs, torch_threads=threads, wall_s=round(time.perf_counter() - t, 1),
               machine=dict(platform=platform.platform(), cpus=os.cpu_count(), loadavg_at_end=[round(l, 2) for l in os.getloadavg()]))
    if Path(a.out).is_file() and a.only:  # a partial run replaces its rows in the stored table
        old = json.loads(Path(a.out).read_text()); keep = {r['mutation']: r for r in old['rows']}
        keep.update({r['mutation']: r for r in rows}); res['rows'] = list(keep.values())
    Path(a.out).write_text(json.dumps(res, indent=1) + '\n'); print(f'wrote {a.out}')
    bad = [r['mutation'] for r in rows if r['caught'] != (r['expect'] == 'caught')]
    if bad: print(f"not as expected: {bad}"); sys.exit(1)

if __name__ == '__main__': main()
