"""Benchmark of the data pipeline (issue: data). Prints a table and writes bench/results/data.json.

- preprocessing images/s: `preprocess` vs a naive per-row pandas + PIL loop on the same file;
- loader images/s at 64 and 128 px: `bengali_dls` vs the per-item `bengali_datablock`, same augmentation;
- peak RSS while preprocessing 1 file vs 4 files of the same size (fresh processes).
Usage: python bench/data.py [--n-train 2000]
"""
import argparse, atexit, json, os, platform, resource, shutil, subprocess, sys, tempfile, time
from pathlib import Path
import numpy as np, pandas as pd, torch
from PIL import Image

def naive_preprocess(f, size):
    "What a first Kaggle kernel does: read the file with pandas, then one row at a time with PIL"
    df = pd.read_parquet(f)
    out = []
    for i in range(len(df)):
        img = 255 - df.iloc[i, 1:].to_numpy(np.uint8).reshape(137, 236)
        ys, xs = np.nonzero(img[5:-5, 5:-5] > 80)
        c = img[max(ys.min() - 3, 0):ys.max() + 13, max(xs.min() - 3, 0):xs.max() + 13] if len(ys) else img
        s = max(c.shape); sq = np.zeros((s, s), np.uint8); sq[:c.shape[0], :c.shape[1]] = c
        out.append(np.asarray(Image.fromarray(sq).resize((size, size))))
    return np.stack(out)

def loader_rate(dl, n_batches):
    it = iter(dl); next(it)  # warm up
    t, n = time.perf_counter(), 0
    for _ in range(n_batches):
        b = next(it); n += len(b[0])
    return n / (time.perf_counter() - t)

PEAK = ("import resource, sys; from bengali_fa.preprocess import preprocess; "
        "preprocess(sys.argv[2:], size=64, cache_dir=sys.argv[1], chunk_rows=256, progress=False); "
        "print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024)")

if __name__ == '__main__':
    ap = argparse.ArgumentParser(); ap.add_argument('--n-train', type=int, default=2000); a = ap.parse_args()
    from bengali_fa.synth import write_dataset
    from bengali_fa.preprocess import preprocess
    from bengali_fa.data import bengali_dls, bengali_datablock
    tmp = Path(tempfile.mkdtemp(prefix='bengali_fa_bench_')); atexit.register(shutil.rmtree, tmp, True)  # removed however the run ends (but SIGKILL)
    src = write_dataset(tmp/'synth', n_train=a.n_train, n_test=300, seed=0, rows_per_file=a.n_train // 4, progress=False, n_workers=2)
    rows = []
    files = sorted(src.glob('train_image_data_*.parquet'))  # the same 4 files for both
    t = time.perf_counter(); preprocess(files, size=64, cache_dir=tmp/'c0', progress=False); ours = a.n_train / (time.perf_counter() - t)
    t = time.perf_counter(); [naive_preprocess(f, 64) for f in files]; naive = a.n_train / (time.perf_counter() - t)
    rows.append(dict(what=f'preprocess {a.n_train} images (4 files) to 64 px', ours=round(ours), baseline=round(naive),
                     speedup=round(ours / naive, 1), baseline_is='pd.read_parquet + per-row PIL loop'))
    one = write_dataset(tmp/'one', n_train=a.n_train, n_test=10, seed=0, progress=False, n_workers=2)/'train_image_data_0.parquet'
    t = time.perf_counter(); preprocess([one], size=64, cache_dir=tmp/'c1', progress=False); ours = a.n_train / (time.perf_counter() - t)
    t = time.perf_counter(); naive_preprocess(one, 64); naive = a.n_train / (time.perf_counter() - t)
    rows.append(dict(what=f'preprocess {a.n_train} images (1 file) to 64 px', ours=round(ours), baseline=round(naive),
                     speedup=round(ours / naive, 1), baseline_is='pd.read_parquet + per-row PIL loop'))
    for size in (64, 128):
        dls = bengali_dls(src, size=size, bs=64, cache_dir=tmp/'c', device='cpu', progress=False)
        db = bengali_datablock(src, size=size, cache_dir=tmp/'c', progress=False).dataloaders(src, bs=64, device='cpu')
        nb = min(len(dls.train), len(db.train)) - 2
        r1, r2 = loader_rate(dls.train, nb), loader_rate(db.train, nb)
        rows.append(dict(what=f'train loader images/s at {size} px (augmented)', ours=round(r1), baseline=round(r2),
                         speedup=round(r1 / r2, 1), baseline_is=f'per-item DataBlock, num_workers={db.train.fake_l.num_workers}'))
    peak = [int(subprocess.run([sys.executable, '-c', PEAK, str(tmp/f'p{k}'), *map(str, fs)], capture_output=True, text=True).stdout.split()[-1])
            for k, fs in enumerate((files[:1], files))]
    rows.append(dict(what=f'peak RSS MB preprocessing 1 vs 4 files of {a.n_train // 4} rows', ours=peak[1], baseline=peak[0],
                     speedup=None, baseline_is='1 file (ours column: 4 files)'))
    print(f"{'what':<58} {'ours':>8} {'baseline':>9} {'ratio':>6}  baseline")
    for r in rows: print(f"{r['what']:<58} {r['ours']:>8} {r['baseline']:>9} {r['speedup'] or '':>6}  {r['baseline_is']}")
    out = Path(__file__).parent/'results'/'data.json'; out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(dict(rows=rows, cpus=os.cpu_count(), torch_threads=torch.get_num_threads(),
                                   machine=platform.platform(), n_train=a.n_train), indent=1))
