"""Run the console commands as a user would, with bad input, and print what the user sees (issue 34).

Each case runs in a subprocess in a scratch folder (its own cache, runs and fonts; nothing outside it is touched) and
the table gives the command, the exit code, the lines on stderr and the last of them. A user error should exit 2 (130
for Ctrl-C) with at most 3 lines that name the file, key or row; after the kill and failure cases nothing is left
behind (no run folder without a row in `bengali-fa-runs list`, no `.partial-` file in the cache).

Usage: python tools/user_errors.py [--only train,predict,...] [-o table.md]
The disk-full case mounts a 40 MB tmpfs and needs root; it is skipped otherwise. About 5 minutes on 2 cores.
"""
import argparse, os, shutil, signal, subprocess, sys, tempfile, time
from pathlib import Path
import pandas as pd, pyarrow as pa, pyarrow.parquet as pq

TINY = ['data.n_train=300', 'data.n_test=40', 'data.size=32', 'data.extra_renders=0', 'train.bs=32', 'train.epochs=3']

def run(cmd, tmp, env=None, timeout=600, cwd=None):
    "Run a console command; (exit code, stderr lines)"
    r = subprocess.run(cmd, capture_output=True, text=True, cwd=cwd or tmp, env={**os.environ, **(env or {})}, timeout=timeout)
    return r.returncode, [l for l in r.stderr.splitlines() if l.strip()], r.stdout

def interrupt(cmd, tmp, when, sig=signal.SIGINT, env=None):
    "Start a command and send it `sig` once `when()` is true; (exit code, stderr lines)"
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=tmp, env={**os.environ, **(env or {})})
    t0 = time.time()
    while not when() and p.poll() is None and time.time() - t0 < 600: time.sleep(0.2)
    p.send_signal(sig)
    out, err = p.communicate()
    return p.returncode, [l for l in err.splitlines() if l.strip()], out

def leftovers(tmp) -> str:
    "What a user would have to clean up by hand: hidden partial files and run folders the runs table does not show"
    from bengali_fa.runs import runs_table
    part = [p for p in Path(tmp).rglob('.*partial-*')]
    rows = []
    for rd in Path(tmp).rglob('runs.csv'):
        rows += runs_table(rd.parent).run.tolist()
    orphans = [p.parent for p in Path(tmp).rglob('.run.lock') if str(p.parent) not in rows]
    return f"partial: {len(part)}, orphan run folders: {len(orphans)}"

def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('--only', default='', help='comma-separated command names (train, predict, synth, fonts, runs, kaggle)')
    ap.add_argument('-o', '--out', default=None, help='also write the markdown table here')
    a = ap.parse_args()
    only = set(filter(None, a.only.split(',')))
    tmp = Path(tempfile.mkdtemp(prefix='user_errors_'))
    env = dict(BENGALI_FA_CACHE=str(tmp/'cache'), BENGALI_FA_FONTS=str(tmp/'fonts'), WANDB_MODE='disabled')
    os.environ.update(env)
    rows = []
    def case(name, what, code, err, expect=2, extra=''):
        said = [l.strip() for l in err if not l.startswith('(BENGALI_FA_DEBUG')]  # the message without the hint line
        rows.append(dict(command=name, case=what, exit=code, ok='yes' if code == expect and (0 < len(err) <= 3 or expect <= 0) else 'NO',
                         lines=len(err), message=' / '.join(said)[:220].replace('|', '/'), after=extra))
        print(rows[-1], flush=True)
    T = ['bengali-fa-train', *TINY]
    runs = tmp/'runs'
    if not only or 'train' in only:
        code, err, _ = run([*T, 'train.epochs=1', f'runs_dir={runs}'], tmp)  # the tiny set, cached for the cases below
        assert code == 0, err
        src = next((tmp/'cache'/'synth').iterdir())
        def bad_set(name, change):
            d = tmp/name; shutil.copytree(src, d); change(d); return d
        case('train', 'unknown key added with +', *run([*T, '+train.lrr=0.1', f'runs_dir={runs}'], tmp)[:2])
        case('train', 'train.bs=1', *run([*T, 'train.bs=1', f'runs_dir={runs}'], tmp)[:2])
        case('train', 'train.bs larger than the training split', *run([*T, 'train.bs=1000', f'runs_dir={runs}'], tmp)[:2])
        case('train', 'swa.start_epoch past the last epoch', *run([*T, 'swa=swa', 'swa.start_epoch=5', f'runs_dir={runs}'], tmp)[:2])
        case('train', 'data.path: no such folder', *run([*T, 'data.path=/no/such/folder', f'runs_dir={runs}'], tmp)[:2])
        case('train', 'data.path: no train.csv', *run([*T, f'data.path={tmp}', f'runs_dir={runs}'], tmp)[:2])
        case('train', 'xresnet50 with pretrained=true', *run([*T, 'model.arch=xresnet50', 'model.pretrained=true', f'runs_dir={runs}'], tmp)[:2])
        case('train', 'timm pretrained=true offline, empty cache', *run([*T, 'model.arch=resnet18', 'model.pretrained=true', f'runs_dir={runs}'], tmp,
                                                                          env=dict(HF_HUB_OFFLINE='1', HF_HOME=str(tmp/'hf')))[:2])
        def label_out_of_range(d):
            t = pd.read_csv(d/'train.csv'); t.loc[3, 'vowel_diacritic'] = 11; t.to_csv(d/'train.csv', index=False)
        def truncated(d):
            f = d/'train_image_data_0.parquet'; b = f.read_bytes(); f.write_bytes(b[:len(b) // 2])
        def missing_pixels(d):
            f = d/'train_image_data_0.parquet'; pq.write_table(pq.read_table(f).drop(['100']), f)
        def duplicate_id(d):
            f = d/'train_image_data_0.parquet'; t = pq.read_table(f); ids = t.column('image_id').to_pylist(); ids[5] = ids[2]
            pq.write_table(t.set_column(0, 'image_id', pa.array(ids)), f)
        def float_pixels(d):
            f = d/'train_image_data_0.parquet'; t = pq.read_table(f)
            pq.write_table(t.set_column(1, '0', t.column(1).cast(pa.float32())), f)
        def image_without_label(d):
            t = pd.read_csv(d/'train.csv'); t.iloc[1:].to_csv(d/'train.csv', index=False)
        for what, change in (('a label out of range', label_out_of_range), ('a truncated parquet file', truncated),
                             ('a missing pixel column', missing_pixels), ('a duplicate image id in one file', duplicate_id),
                             ('float pixels', float_pixels), ('an image without a label', image_without_label)):
            d = bad_set(what.replace(' ', '_'), change)
            case('train', what, *run([*T, f'data.path={d}', f'runs_dir={runs}'], tmp)[:2])
        # Ctrl-C after the first checkpoint, kill -9 while preprocessing: then a run in the same cache
        code, err, _ = interrupt([*T, 'train.epochs=20', f'runs_dir={tmp/"intr"}'], tmp,
                                 lambda: any((tmp/'intr').glob('*/ckpt/last.pth')))
        case('train', 'Ctrl-C after the first checkpoint', code, err, expect=130)
        big = bad_set('big', lambda d: None)
        for f in big.glob('train_image_data_*.parquet'):  # a bigger set: preprocessing takes long enough to be killed
            t = pq.read_table(f); pq.write_table(pa.concat_tables([t.set_column(0, 'image_id', pa.array([f'{i}_{k}' for i in t.column(0).to_pylist()]))
                                                                  for k in range(10)]), f)
        lab = pd.read_csv(big/'train.csv'); pd.concat([lab.assign(image_id=lab.image_id + f'_{k}') for k in range(10)]).to_csv(big/'train.csv', index=False)
        code, err, _ = interrupt([*T, f'data.path={big}', 'data.size=128', f'runs_dir={tmp/"killed"}'], tmp,
                                 lambda: any((tmp/'cache').glob('.*.partial-*')), sig=signal.SIGKILL)
        code2, err2, out2 = run(['bengali-fa-runs', 'list', '--runs-dir', str(tmp/'killed')], tmp)
        case('train', 'kill -9 while preprocessing', code, err, expect=-9, extra=f"runs list: {out2.splitlines()[-1].split()[1:3] if out2 else err2}")
        code, err, _ = run([*T, f'data.path={big}', 'data.size=128', 'train.bs=100000', f'runs_dir={tmp/"killed"}'], tmp)  # preprocesses, then stops
        case('train', '... then a run with that cache (train.bs too large)', code, err, extra=leftovers(tmp/'cache'))
        if os.geteuid() == 0 and shutil.which('mount'):
            full = tmp/'full'; full.mkdir()
            if subprocess.run(['mount', '-t', 'tmpfs', '-o', 'size=40m', 'tmpfs', str(full)]).returncode == 0:
                try:
                    code, err, _ = run([*T, f'runs_dir={full}'], tmp)
                    case('train', 'a full disk (40 MB runs_dir)', code, err, extra=leftovers(full))
                finally: subprocess.run(['umount', str(full)])
        case('train', 'failed runs in the runs table', 0 if 'failed' in run(['bengali-fa-runs', 'list', '--runs-dir', str(runs)], tmp)[2] else 1, ['(listed)'],
             expect=0, extra=leftovers(runs))
    if not only or 'predict' in only:
        bundle = next(runs.glob('*/bundle'), None) if runs.exists() else None
        src = next((tmp/'cache'/'synth').iterdir(), None) if (tmp/'cache'/'synth').exists() else None
        case('predict', 'no such --data folder', *run(['bengali-fa-predict', '--model', str(bundle), '--data', '/no/such'], tmp)[:2])
        case('predict', 'no such model bundle', *run(['bengali-fa-predict', '--model', '/no/bundle', '--data', str(src)], tmp)[:2])
        case('predict', '--tta 20', *run(['bengali-fa-predict', '--model', str(bundle), '--data', str(src), '--tta', '20'], tmp)[:2])
    if not only or 'synth' in only:
        case('synth', '--n-train -3', *run(['bengali-fa-synth', '--out', str(tmp/'s'), '--n-train', '-3'], tmp)[:2])
        (tmp/'s2').mkdir(); (tmp/'s2'/'x').write_text('mine')
        case('synth', 'output folder not empty', *run(['bengali-fa-synth', '--out', str(tmp/'s2'), '--n-train', '10'], tmp)[:2])
        case('synth', 'an unknown held-out design', *run(['bengali-fa-synth', '--out', str(tmp/'s3'), '--holdout-designs', 'Comic Sans'], tmp)[:2])
    if not only or 'fonts' in only:
        (tmp/'bad.tgz').write_bytes(b'not a tarball')
        case('fonts', 'a corrupt package file', *run(['bengali-fa-fonts', str(tmp/'bad.tgz'), '--dest', str(tmp/'f')], tmp)[:2],
             extra=f"installed: {sorted(p.name for p in (tmp/'f').iterdir()) if (tmp/'f').exists() else []}")
    if not only or 'runs' in only:
        case('runs', 'diff with one folder', *run(['bengali-fa-runs', 'diff', str(tmp)], tmp)[:2])
        case('runs', 'list where no run was made', *run(['bengali-fa-runs', 'list', '--runs-dir', str(tmp/'none')], tmp)[:2])
    if not only or 'kaggle' in only:
        case('kaggle', 'no such model bundle', *run(['bengali-fa-kaggle-bundle', '--model', '/no/bundle', '--out', str(tmp/'k')], tmp)[:2])
    t = pd.DataFrame(rows)
    md = '\n'.join(['| ' + ' | '.join(t.columns) + ' |', '|' + '---|' * len(t.columns)] +
                   ['| ' + ' | '.join(str(v) for v in r) + ' |' for r in t.itertuples(index=False)])  # (no tabulate needed)
    print(md)
    if a.out: Path(a.out).write_text(md + '\n')
    shutil.rmtree(tmp, ignore_errors=True)

if __name__ == '__main__': main()
