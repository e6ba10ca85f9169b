"""Full competition scale (issue 16). Prints a markdown table and writes bench/results/scale.json.

Writes a competition-layout set at the real shape: 4 train files of 50,210 rows x (image_id + 32,332 uint8 pixel columns
'0'..'32331'), one row group per file (what pandas/pyarrow wrote for the real files: `row_group_size` defaults to the
whole table), made of a few thousand rendered images repeated with new ids, plus train.csv. `--fraction 0.25` makes
files of a quarter of the rows (the same 4 files), so time and memory can be compared across sizes.
The set is kept under `<cache>/scale/` (BENGALI_FA_CACHE or ~/.cache/bengali_fa) for the next run; `--clean` deletes it.

Measured in one run, each preprocessing figure in a fresh child process (its peak RSS from RUSAGE_CHILDREN):
- the decode floor: `pyarrow.parquet.read_table` of each file (pyarrow's default threads), and a pandas-free
  `iter_batches` read of every row (the floor for a streaming reader);
- `preprocess` (the library) at 64 and 128 px with `--workers` processes: seconds, images/s, ratio to the floor, peak RSS;
- the train loader's images/s (`bengali_dls`, augmented, bs 64);
  Peak RSS is the child's VmHWM; with workers, plus workers x their largest ru_maxrss (forks of the child: pages
  shared with it are counted again, so an upper bound);
- `predict_parquets` images/s over the set's 4 files, as the real test set (or a file of `--predict-rows` rows; one row
  group per file, so a row group's decode before its first prediction weighs as it does there), TTA on 8,192 rows,
  against the model alone at the same torch threads and in the same precision (bf16 on a CPU that computes it natively;
  `model_only_float32` without it) (measured before and after, averaged: the machine drifts; with
  `--rounds N`, also N times alternately with end to end on one file), projected to the 200,840-image test set.
Usage (the lead's full-size run on a quiet machine):
  python bench/scale.py --fraction 1 --workers 2
"""
import argparse, json, os, platform, resource, shutil, subprocess, sys, time
from pathlib import Path
import numpy as np, pandas as pd
import pyarrow as pa, pyarrow.parquet as pq

ROWS, N_FILES, N_TEST = 50_210, 4, 200_840
SRC = 'bench/plain_n6000_t2000_u0.3_s0'  # the cached synthetic set of bench/plain_loop.py (a fresh one is rendered if absent)

def cache_dir() -> Path: return Path(os.environ.get('BENGALI_FA_CACHE', '~/.cache/bengali_fa')).expanduser()

def source_images(n_src):
    "(ids, labels DataFrame, (n, 137*236) uint8) of `n_src` rendered images"
    from bengali_fa.synth import write_dataset
    d = next((c/SRC for c in (cache_dir(), Path('~/.cache/bengali_fa').expanduser()) if (c/SRC/'train_image_data_0.parquet').exists()), None)
    if d is None:
        d = write_dataset(cache_dir()/'scale'/'src', n_train=n_src, n_test=10, seed=0, progress=True, n_workers=1, overwrite=True)
    t = pq.ParquetFile(d/'train_image_data_0.parquet').iter_batches(batch_size=n_src).__next__()
    x = np.asarray(t.drop_columns(['image_id']).to_tensor(row_major=True))
    lab = pd.read_csv(d/'train.csv').set_index('image_id').loc[t.column(0).to_pylist()].reset_index()
    return lab, x

def write_set(out:Path, rows:int, n_src:int, split='train'):
    "4 files of `rows` rows, each one row group, the source images repeated with new ids; train.csv for train"
    if (out/'done').exists(): return out
    out.mkdir(parents=True, exist_ok=True)
    lab, x = source_images(n_src)
    from bengali_fa.core import PARQUET_SCHEMA
    labs = []
    for k in range(N_FILES):
        idx = (np.arange(rows) + k * rows) % len(x)  # each file starts where the last ended
        ids = [f'{split.capitalize()}_{k * rows + i}' for i in range(rows)]
        cols = np.ascontiguousarray(x[idx].T)  # (32332, rows): one contiguous column each
        t = pa.Table.from_arrays([pa.array(ids, pa.string())] + [pa.array(c) for c in cols], schema=PARQUET_SCHEMA)
        del cols
        pq.write_table(t, out/f'{split}_image_data_{k}.parquet', row_group_size=rows)
        del t
        labs.append(lab.iloc[idx].assign(image_id=ids))
        print(f'wrote {out.name}/{split}_image_data_{k}.parquet', flush=True)
    pd.concat(labs)[['image_id', 'grapheme_root', 'vowel_diacritic', 'consonant_diacritic', 'grapheme']].to_csv(out/f'{split}.csv', index=False)
    (out/'done').write_text('')
    return out

# --- child measurements: each runs in a fresh process, prints one JSON line
def child_read_table(files):
    t = time.perf_counter()
    for f in files: pq.read_table(f)
    return dict(seconds=time.perf_counter() - t)

def child_iter_batches(files):
    t = time.perf_counter()
    for f in files:
        for b in pq.ParquetFile(f, pre_buffer=False, buffer_size=1 << 14).iter_batches(batch_size=1024, use_threads=False): pass
    return dict(seconds=time.perf_counter() - t)

def child_preprocess(files, size, workers, cache, chunk_rows=None):
    from bengali_fa.preprocess import preprocess
    t = time.perf_counter()
    kw = dict(n_workers=workers) if workers else {}  # workers 0: a library without the argument (--baseline)
    if chunk_rows: kw['chunk_rows'] = chunk_rows
    c = preprocess(files, size=size, cache_dir=cache, progress=False, **kw)
    s = time.perf_counter() - t
    t = time.perf_counter(); preprocess(files, size=size, cache_dir=cache, progress=False, **kw)
    return dict(seconds=s, n=len(c), reuse_seconds=time.perf_counter() - t)

def child(kind, args):
    out = globals()[f'child_{kind}'](*args)
    ru, rc = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = ru.ru_utime + ru.ru_stime + rc.ru_utime + rc.ru_stime  # this process and its (finished) workers
    # VmHWM: this process's own peak (ru_maxrss would keep the parent's size from the fork before exec)
    hwm = next((int(l.split()[1]) // 1024 for l in open('/proc/self/status') if l.startswith('VmHWM')), ru.ru_maxrss // 1024)
    print(json.dumps(out | dict(peak_rss_mb=hwm, worker_peak_rss_mb=rc.ru_maxrss // 1024, cpu_seconds=cpu)))

def measure(kind, *args, pythonpath=None):
    "Run `child_<kind>(*args)` in a fresh process: its result, its peak RSS and its largest worker's (RUSAGE_CHILDREN)"
    # `python -c` puts the working directory first on sys.path: a baseline package must come before it
    first = f"sys.path.insert(0, {str(Path(pythonpath).resolve())!r}); " if pythonpath else ''
    code = (f"import sys, json; sys.path.insert(0, {str(Path(__file__).parent)!r}); {first}import scale; "
            f"scale.child({kind!r}, json.loads(sys.argv[1]))")
    r = subprocess.run([sys.executable, '-c', code, json.dumps(args)], capture_output=True, text=True)
    if r.returncode: raise RuntimeError(f'{kind} failed:\n{r.stderr[-3000:]}')
    return json.loads(r.stdout.strip().splitlines()[-1])

def rss(r, workers):
    "peak RSS of the process tree: the main process plus each worker (their largest peak, an upper bound)"
    return r['peak_rss_mb'] + workers * r['worker_peak_rss_mb'] if workers > 1 and r['worker_peak_rss_mb'] else r['peak_rss_mb']

def loader_rate(src, size, cache, n_batches=60):
    from bengali_fa.data import bengali_dls
    dls = bengali_dls(src, size=size, bs=64, cache_dir=cache, device='cpu', progress=False)
    it = iter(dls.train); next(it)
    t, n = time.perf_counter(), 0
    for _ in range(min(n_batches, len(dls.train) - 2)): n += len(next(it)[0])
    return n / (time.perf_counter() - t)

def test_slice(src, rows):
    "A test-layout file of the first `rows` rows of train file 0 (one row group, as the real files)"
    from bengali_fa.core import PARQUET_SCHEMA
    f = src/'slice'/f'rows{rows}'/'test_image_data_0.parquet'
    if not f.exists():
        f.parent.mkdir(parents=True, exist_ok=True)
        t = next(pq.ParquetFile(src/'train_image_data_0.parquet').iter_batches(batch_size=rows))
        pq.write_table(pa.Table.from_batches([t]).cast(PARQUET_SCHEMA), f, row_group_size=rows)
    return f

def predict_rates(src, rows, size, bs, tta, compile_, threads=(1,), tta_rows=8192, model_batches=16, rounds=0, float32=False):
    """model-only and predict_parquets images/s on the set's 4 files (`rows` 0) or a test file of the first `rows` rows of
    train file 0 (TTA and reading alone on the first `tta_rows`); the model alone on `model_batches` batches of random
    images (its rate does not depend on the pixels)"""
    import torch
    from bengali_fa.model import BengaliModel
    from bengali_fa.predict import predict_parquets, fold_batchnorm, _channels_last, _prediction_net
    from bengali_fa.learner import autocast_dtype as _autocast_dtype
    from bengali_fa.parquet import iter_parquet_images
    from bengali_fa.preprocess import preprocess_images
    # rows 0: the 4 files of the set, as the test set (its row groups' decode before their first predictions included)
    f = [src/f'train_image_data_{k}.parquet' for k in range(N_FILES)] if rows == 0 else test_slice(src, rows)
    rows = rows or sum(pq.ParquetFile(g).metadata.num_rows for g in f)
    f_tta, f_warm = test_slice(src, tta_rows), test_slice(src, 512)
    torch.manual_seed(0)
    model = BengaliModel('xresnet18').eval()
    pre = dict(size=size, threshold=80, margin=8, edge=5, mean=0.06, std=0.2)
    x = torch.randn(bs, 1, size, size)
    amp = _autocast_dtype('cpu')  # what predict_parquets runs in here (bf16 on a CPU that computes it natively)
    def rate(m, x, n=model_batches, amp=amp):
        with torch.inference_mode(), torch.autocast('cpu', dtype=amp, enabled=amp is not None):
            m(x); t = time.perf_counter()
            for _ in range(n): m(x)
            return n * len(x) / (time.perf_counter() - t)
    out = dict(rows=rows, tta_rows=tta_rows, precision=str(amp or torch.float32))
    for _ in range(2):  # the first pass pays one-off costs (a process's first 32k-column footer, allocations): keep the second
        t = time.perf_counter()
        for ids, im in iter_parquet_images(f_tta): preprocess_images(im, size)
        out['read_preprocess_only'] = tta_rows / (time.perf_counter() - t)
    folded = _prediction_net(model, torch.device('cpu'), amp)  # the model and inputs as predict_parquets runs them
    xr = x.contiguous(memory_format=torch.channels_last) if _channels_last(torch.device('cpu'), amp) else x
    for T in threads:  # the model alone and end to end with the same torch threads (the reading thread comes on top)
        torch.set_num_threads(T)
        out[f'model_only_plain_t{T}'] = rate(model, x)
        if amp is not None: out[f'model_only_float32_t{T}'] = rate(fold_batchnorm(model), x, amp=None)  # the folded model in float32
        out[f'model_only_before_t{T}'] = rate(folded, xr)  # what predict_parquets runs, also measured after it (the machine drifts)
        cl = fold_batchnorm(model).to(memory_format=torch.channels_last)
        out[f'model_only_channels_last_t{T}'] = rate(cl, x.contiguous(memory_format=torch.channels_last))
        if compile_:
            t = time.perf_counter(); c = torch.compile(folded)
            with torch.inference_mode(): c(xr)
            out[f'compile_seconds_t{T}'] = time.perf_counter() - t
            out[f'model_only_compiled_t{T}'] = rate(c, xr)
        predict_parquets(model, f_warm, pre, bs=bs, progress=False)  # warm-up
        for v in sorted({0, tta}):
            n, fv = (rows, f) if v == 0 else (tta_rows, f_tta)
            t = time.perf_counter(); df = predict_parquets(model, fv, pre, bs=bs, tta=v, progress=False)
            assert len(df) == n
            out[f'predict_tta{v}_t{T}'] = n / (time.perf_counter() - t) * max(v, 1)  # view-images/s: comparable with the model alone
        if float32 and amp is not None:  # end to end without mixed precision, on the `tta_rows` file
            t = time.perf_counter(); predict_parquets(model, f_tta, pre, bs=bs, progress=False, mixed_precision=False)
            out[f'float32_predict_t{T}'] = tta_rows / (time.perf_counter() - t)
        out[f'model_only_after_t{T}'] = rate(folded, xr)
        out[f'model_only_t{T}'] = (out[f'model_only_before_t{T}'] + out[f'model_only_after_t{T}']) / 2
        if rounds:  # alternately end to end over the `tta_rows` file and the model alone on as many images: drift cancels
            te = tm = 0.
            for _ in range(rounds):
                t = time.perf_counter(); predict_parquets(model, f_tta, pre, bs=bs, progress=False); te += time.perf_counter() - t
                tm += tta_rows / rate(folded, xr, -(-tta_rows // bs))
            out[f'interleaved_predict_over_model_t{T}'] = tm / te
    return out

if __name__ == '__main__':
    ap = argparse.ArgumentParser()
    ap.add_argument('--fraction', type=float, default=1.0, help='rows per file as a fraction of 50,210')
    ap.add_argument('--workers', type=int, default=2, help='preprocessing worker processes')
    ap.add_argument('--sizes', type=int, nargs='+', default=[64, 128])
    ap.add_argument('--n-src', type=int, default=3000, help='distinct rendered images repeated')
    ap.add_argument('--chunk-rows', type=int, default=0, help="preprocess's chunk_rows (0: the library's default)")
    ap.add_argument('--predict-rows', type=int, default=0, help="rows predicted (0: the set's 4 files, as the real test set)"); ap.add_argument('--bs', type=int, default=256)
    ap.add_argument('--tta', type=int, default=4)
    ap.add_argument('--rounds', type=int, default=0, help='also predict the --tta-rows file and run the model alone on as many images, alternately, this many times')
    ap.add_argument('--tta-rows', type=int, default=0, help='rows predicted with TTA (0: the first 8,192 predicted rows)')
    ap.add_argument('--threads', type=int, nargs='+', default=[1, 2], help="torch threads for the model (the reader is one more thread)")
    ap.add_argument('--skip', nargs='*', default=[], help='parts to skip: read_table iter_batches preprocess loader predict')
    ap.add_argument('--baseline', help='a folder holding another bengali_fa package (e.g. `git archive <commit> bengali_fa`) to time too')
    ap.add_argument('--note', default='', help='measurement conditions, recorded in the JSON')
    ap.add_argument('--compile', action='store_true', help='also time torch.compile of the model')
    ap.add_argument('--float32', action='store_true', help='also predict the --tta-rows file end to end in float32 (where the default is mixed precision)')
    ap.add_argument('--clean', action='store_true', help='delete the written set and caches at the end')
    ap.add_argument('--out', default=str(Path(__file__).parent/'results'/'scale.json'))
    a = ap.parse_args()
    rows = round(ROWS * a.fraction)
    free = shutil.disk_usage(cache_dir()).free / 2**30
    need = rows * N_FILES * 32_332 * (0.75 + 1 / 3) / 2**30  # parquet (~0.75 B/px for these renders) + caches
    if free < need + 5: sys.exit(f'{free:.0f} GiB free under {cache_dir()}, about {need:.0f} GiB needed')
    src = write_set(cache_dir()/'scale'/f'rows{rows}', rows, a.n_src)
    files = [str(src/f'train_image_data_{k}.parquet') for k in range(N_FILES)]
    n = rows * N_FILES
    cache = src/'cache'
    shutil.rmtree(cache, ignore_errors=True)
    aff = sorted(os.sched_getaffinity(0))
    load0 = os.getloadavg()
    res = dict(rows_per_file=rows, n_files=N_FILES, n_images=n, fraction=a.fraction, workers=a.workers,
               parquet_gb=round(sum(os.path.getsize(f) for f in files) / 1e9, 2))
    table = []
    if 'read_table' not in a.skip:
        r = measure('read_table', files); res['read_table'] = r
        table.append(('decode floor: pq.read_table of the 4 files', r, 1.0, r['peak_rss_mb']))
    floor = res.get('read_table', {}).get('seconds')
    cfloor = res.get('read_table', {}).get('cpu_seconds')
    if 'iter_batches' not in a.skip:
        r = measure('iter_batches', files); res['iter_batches'] = r
        table.append(('iter_batches of the 4 files (1 thread, 1024 rows)', r, floor and r['seconds'] / floor, r['peak_rss_mb']))
    for size in ([] if 'preprocess' in a.skip else a.sizes):
        r = measure('preprocess', files, size, a.workers, str(cache), a.chunk_rows); res[f'preprocess_{size}'] = r
        table.append((f'preprocess to {size} px, {a.workers} workers{f", chunk_rows {a.chunk_rows}" if a.chunk_rows else ""} (reuse: {r["reuse_seconds"]:.2f} s)', r,
                      floor and r['seconds'] / floor, rss(r, a.workers)))
        if a.baseline:
            r = measure('preprocess', files, size, 0, str(cache/'baseline'), pythonpath=a.baseline); res[f'baseline_preprocess_{size}'] = r
            table.append((f'baseline preprocess to {size} px ({a.baseline})', r, floor and r['seconds'] / floor, r['peak_rss_mb']))
    if 'loader' not in a.skip:
        for size in a.sizes:
            res[f'loader_{size}'] = loader_rate(src, size, cache)
            table.append((f'train loader at {size} px (bengali_dls, augmented, bs 64)', dict(images_per_s=res[f'loader_{size}']), None, None))
    if 'predict' not in a.skip:
        p = predict_rates(src, a.predict_rows, 64, a.bs, a.tta, a.compile, a.threads, a.tta_rows or min(a.predict_rows or rows, 8192), rounds=a.rounds, float32=a.float32); res['predict'] = p
        res['predict_over_model'] = {k: p[k] / p['model_only_' + k.rsplit('_', 1)[1]] for k in p if k.startswith('predict')}
        for k, v in p.items():
            if k.startswith(('compile_seconds', 'model_only_before', 'model_only_after', 'interleaved')) or k in ('rows', 'tta_rows', 'precision'): continue
            tta = int(k[len('predict_tta'):].split('_')[0]) if k.startswith('predict_tta') else 1
            table.append((f'{k} (xresnet18, 64 px, bs {a.bs}, {p["tta_rows"] if tta > 1 or k == "read_preprocess_only" or k.startswith("float32") else p["rows"]:,} images{", view-images/s" if tta > 1 else ""}); '
                          f'{N_TEST:,} test images: {N_TEST * max(tta, 1) / v / 60:.0f} min'
                          + (f'; {res["predict_over_model"][k]:.2f} x model_only at the same threads' if k in res['predict_over_model'] else ''),
                          dict(images_per_s=v), None, None))
    import torch
    res |= dict(cpus=os.cpu_count(), cpu_affinity=aff, torch_threads=torch.get_num_threads(), machine=platform.platform(),
                load_avg_before=load0, load_avg_after=os.getloadavg(), date=time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime()),
                omp_num_threads=os.environ.get('OMP_NUM_THREADS'), note=a.note)
    print(f"\n{N_FILES} files x {rows:,} rows ({n:,} images, {res['parquet_gb']} GB parquet), CPUs {aff} of {os.cpu_count()}, "
          f"load {load0[0]:.1f} -> {res['load_avg_after'][0]:.1f}\n")
    print('| what | seconds | images/s | x decode floor | CPU seconds | x decode floor (CPU) | peak RSS MB |\n|---|---|---|---|---|---|---|')
    rows_ = []
    for w, r, ratio, mem in table:
        s, c = r.get('seconds'), r.get('cpu_seconds')
        ips = r.get('images_per_s') or n / s
        cratio = c / cfloor if c and cfloor else None
        f = lambda v, fmt: '' if v is None else format(v, fmt)
        print(f"| {w} | {f(s, '.1f')} | {ips:,.0f} | {f(ratio, '.2f')} | {f(c, '.1f')} | {f(cratio, '.2f')} | {mem or ''} |")
        rows_.append(dict(what=w, seconds=s, images_per_s=ips, ratio_to_read_table=ratio, cpu_seconds=c, cpu_ratio_to_read_table=cratio, peak_rss_mb=mem))
    res['table'] = rows_
    for k, v in res.get('predict', {}).items():
        if k.startswith('interleaved'): print(f"{k} ({a.rounds} rounds of {res['predict']['tta_rows']:,} images, alternately): {v:.2f}")
    out = Path(a.out); out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(res, indent=1))
    if a.clean: shutil.rmtree(src)
