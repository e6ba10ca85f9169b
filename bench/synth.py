"""Benchmark of the synthetic data generator: rendering images/s and end-to-end `write_dataset` images/s.

Prints a table and writes bench/results/synth.json. Usage: python bench/synth.py [--n-train 2000 --n-test 300]
"""
import argparse, json, os, platform, resource, shutil, tempfile, time
from pathlib import Path
import numpy as np, torch
from bengali_fa.labels import train_graphemes
from bengali_fa.fonts import find_fonts, covers
from bengali_fa.synth import render_batch, write_dataset

def render_rate(n=1024, sub=64):
    fonts, _ = find_fonts(quiet=True)
    g = train_graphemes().grapheme.to_numpy()[np.random.default_rng(0).integers(0, 1295, n)]
    fps = [next(f for k in range(len(fonts)) if covers(f := fonts[(i + k) % len(fonts)], t)) for i, t in enumerate(g)]
    render_batch(list(g[:sub]), fps[:sub], 0, 0, 0)  # warm up (font objects)
    t = time.perf_counter()
    for s in range(0, n, sub): render_batch(list(g[s:s + sub]), fps[s:s + sub], 0, 0, s)
    return n / (time.perf_counter() - t), len(fonts)

def render_rate_2proc(n=2048, chunk=256):
    "Rendering only, in 2 worker processes (as write_dataset's workers do), without parquet encoding"
    import multiprocessing as mp
    from dataclasses import asdict
    from concurrent.futures import ProcessPoolExecutor
    from bengali_fa.synth import _render_chunk, _worker_init, RenderConfig
    fonts, _ = find_fonts(quiet=True)
    g = train_graphemes().grapheme.to_numpy()[np.random.default_rng(0).integers(0, 1295, n)]
    fps = [str(next(f for k in range(len(fonts)) if covers(f := fonts[(i + k) % len(fonts)], t))) for i, t in enumerate(g)]
    with ProcessPoolExecutor(2, mp_context=mp.get_context('fork'), initializer=_worker_init) as ex:
        list(ex.map(_render_chunk, [list(g[:64])] * 2, [fps[:64]] * 2, [0] * 2, [0] * 2, [0] * 2, [asdict(RenderConfig())] * 2))
        t = time.perf_counter()
        jobs = [(list(g[s:s + chunk]), fps[s:s + chunk], 0, 0, s, asdict(RenderConfig())) for s in range(0, n, chunk)]
        for _ in ex.map(_render_chunk, *zip(*jobs)): pass
    return n / (time.perf_counter() - t)

def write_rate(n_train, n_test, workers):
    with tempfile.TemporaryDirectory(prefix='bengali_fa_bench_') as d:
        t = time.perf_counter()
        write_dataset(Path(d)/'s', n_train=n_train, n_test=n_test, seed=0, n_workers=workers, progress=False)
        dt = time.perf_counter() - t
        mb = sum(f.stat().st_size for f in (Path(d)/'s').iterdir()) / 2**20
    return (n_train + n_test) / dt, dt, mb

if __name__ == '__main__':
    ap = argparse.ArgumentParser(); ap.add_argument('--n-train', type=int, default=2000); ap.add_argument('--n-test', type=int, default=300)
    a = ap.parse_args()
    rows = []
    r, nf = render_rate()
    rows.append(dict(what='render_batch, 1 process', images_per_s=round(r), seconds=None, dataset_mb=None))
    rows.append(dict(what='rendering only, 2 processes', images_per_s=round(render_rate_2proc()), seconds=None, dataset_mb=None))
    for w in (0, 2):
        ips, dt, mb = write_rate(a.n_train, a.n_test, w)
        rows.append(dict(what=f'write_dataset {a.n_train}+{a.n_test}, workers={w}', images_per_s=round(ips), seconds=round(dt, 1), dataset_mb=round(mb, 1)))
    print(f"{'what':<42} {'images/s':>9} {'seconds':>8} {'MB':>7}")
    for x in rows: print(f"{x['what']:<42} {x['images_per_s']:>9} {x['seconds'] or '':>8} {x['dataset_mb'] or '':>7}")
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f'fonts: {nf}; cores: {os.cpu_count()}; peak RSS of this process: {peak:.0f} MB')
    out = Path(__file__).parent/'results'/'synth.json'; out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(dict(rows=rows, fonts=nf, cpus=os.cpu_count(), torch_threads=torch.get_num_threads(),
                                   machine=platform.platform(), peak_rss_mb=round(peak)), indent=1))
