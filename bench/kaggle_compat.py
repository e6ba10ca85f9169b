"""The Kaggle `predict.py` on an older runtime stack (issue 32): does the offline submission run where a Kaggle image is older?

1. This environment trains the tiny config (300 synthetic images at 32 px, one epoch) and packs its Kaggle folder with
   `bengali-fa-kaggle-bundle` (the wheel, the model bundle, `predict.py`).
2. A separate virtual environment holds only the runtime stack, pinned to older versions (`--pins`). It has torch,
   fastai, fastcore, timm, pandas and pyarrow, and no bengali_fa: `predict.py` installs the wheel offline, as in a
   kernel.
3. `predict.py` runs there on the synthetic set's test images, and its submission is compared byte for byte with the
   one this environment's `predict_submission` writes.
4. The same for an ensemble: two folds of the tiny config trained as a group (`fold_group`), packed as one Kaggle folder
   (`bundle/0`, `bundle/1`, `bundle/ensemble.json`).

Prints a table and writes bench/results/kaggle_compat.json. Making the environment needs PyPI once, and it is kept for
later runs (`--venv`).
Usage: python bench/kaggle_compat.py [--venv /tmp/bengali_fa_oldstack] [--pins torch==2.6.0 fastai==2.7.19 ...]
"""
import argparse, contextlib, io, json, os, subprocess, sys, tempfile, time
from pathlib import Path

PINS = ['torch==2.6.0', 'fastai==2.7.19', 'fastcore==1.7.29', 'timm==1.0.9', 'pandas==2.2.3', 'pyarrow==17.0.0']

def old_env(venv:Path, pins:list) -> Path:
    "The python of a virtual environment with `pins` installed (made once; kept)"
    py = venv/'bin'/'python'
    if not py.exists():
        subprocess.run([sys.executable, '-m', 'venv', str(venv)], check=True)
        subprocess.run([str(py), '-m', 'pip', 'install', '-q', '--upgrade', 'pip'], check=True)
    subprocess.run([str(py), '-m', 'pip', 'install', '-q', *pins], check=True)
    subprocess.run([str(py), '-m', 'pip', 'uninstall', '-q', '-y', 'bengali_fa'], check=False)  # predict.py installs its wheel
    return py

def versions(py) -> dict:
    code = "import importlib.metadata as m, json; print(json.dumps({p: m.version(p) for p in ('torch', 'fastai', 'fastcore', 'timm', 'pandas', 'pyarrow', 'numpy')}))"
    return json.loads(subprocess.run([str(py), '-c', code], capture_output=True, text=True, check=True).stdout)

def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--venv', default=str(Path(tempfile.gettempdir())/'bengali_fa_oldstack'))
    ap.add_argument('--pins', nargs='+', default=PINS)
    a = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix='bengali_fa_kaggle_compat_'))
    os.environ['BENGALI_FA_CACHE'] = str(tmp/'cache')
    from bengali_fa.test_utils import TINY
    from bengali_fa.train import train, train_config, data_path
    from bengali_fa.kaggle import kaggle_bundle
    from bengali_fa.predict import predict_submission
    from bengali_fa.runs import fold_group
    cfg = train_config([*TINY, 'train.epochs=1', f'runs_dir={tmp/"runs"}'])
    with contextlib.redirect_stdout(io.StringIO()):
        run = train(cfg, progress=False)['run']
        for k in (0, 1): train(train_config([*TINY, 'train.epochs=1', 'data.n_folds=2', f'data.fold={k}', f'runs_dir={tmp/"runs"}']),
                               run_dir=tmp/'group'/str(k), progress=False)
    fold_group(tmp/'group')
    data = data_path(cfg, progress=False)
    py = old_env(Path(a.venv), a.pins)
    def compare(model, name) -> dict:
        "`predict.py` of the Kaggle folder of `model` in the old stack against `predict_submission` here"
        kaggle_bundle(model, tmp/f'kaggle_{name}')
        with contextlib.redirect_stdout(io.StringIO()):
            predict_submission(model=model, data=str(data), out=str(tmp/f'here_{name}.csv'), no_progress=True, device='cpu')
        t = time.perf_counter()
        r = subprocess.run([str(py), str(tmp/f'kaggle_{name}'/'predict.py'), '--data', str(data), '--out', str(tmp/f'old_{name}.csv'), '--no-progress',
                            '--device', 'cpu'], capture_output=True, text=True, cwd=tmp)
        same = (tmp/f'old_{name}.csv').is_file() and (tmp/f'old_{name}.csv').read_bytes() == (tmp/f'here_{name}.csv').read_bytes()
        return dict(returncode=r.returncode, seconds=round(time.perf_counter() - t, 1), same_submission=same,
                    stderr_tail=r.stderr.strip().splitlines()[-3:], stdout_tail=r.stdout.strip().splitlines()[-2:])
    one, ens = compare(run, 'one'), compare(str(tmp/'group'), 'ensemble')
    here, old = versions(sys.executable), versions(py)
    res = dict(pins=a.pins, old=old, here=here, **one, ensemble=ens)
    same = one['same_submission'] and ens['same_submission']
    print('| package | Kaggle-like stack | this environment |\n|---|---|---|')
    for k in here: print(f'| {k} | {old[k]} | {here[k]} |')
    for n, r in (('one model', one), ('a 2-fold ensemble', ens)):
        print(f"\npredict.py there, {n}: exit {r['returncode']}; the same submission as here: {r['same_submission']}")
    out = Path(__file__).parent/'results'/'kaggle_compat.json'
    out.write_text(json.dumps(res, indent=1) + '\n')
    if not same: print('\n'.join(one['stderr_tail'] + ens['stderr_tail']), file=sys.stderr); sys.exit(1)

if __name__ == '__main__': main()
