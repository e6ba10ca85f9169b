"""The GPU check (issue 14), run by bench/gpu.sh: one pass of short measurements on one GPU, each step timed.

1. loader images/s at 128 px (uint8 gather, to the GPU, augmentation and normalisation there);
2. training images/s of xresnet50 and a timm se-resnext at 128 px with bf16 and channels_last through fastai (the
   library's learner and loader), and the model-only forward/backward/step rate of the same model on batches
   already in GPU memory: overhead = 1 - training / model-only;
3. a 2-epoch run of the training app (`train`) on the synthetic set;
4. `predict_parquets` images/s on the synthetic test parquet with that run's bundle;
5. a run interrupted in the middle of its second epoch and resumed from its checkpoint (optimizer state back on the GPU);
6. the ensemble of those two runs' bundles (`predict_parquets` with both: the heads' probabilities averaged), images/s.
The training steps use the one-GPU preset `train=gpu` (its epochs set to 2) and record the GPU's peak memory.
Prints a markdown table; writes bench/results/gpu.json (after every step, so a timeout keeps what was measured).
`--cpu --tiny` runs every step on the CPU at toy sizes (a smoke test of the script; it writes gpu_smoke.json).
"""
import argparse, contextlib, io, json, os, platform, sys, tempfile, time, traceback
from pathlib import Path

ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
ap.add_argument('--cpu', action='store_true', help='run on the CPU (smoke test of the script)')
ap.add_argument('--tiny', action='store_true', help='toy sizes: 300 images at 32 px, a few batches')
ap.add_argument('--archs', default='xresnet50,seresnext50_32x4d', help='the model presets to time')
ap.add_argument('--out', default=None, help='default: bench/results/gpu.json (gpu_smoke.json with --cpu)')
a = ap.parse_args()

import numpy as np, torch
import pandas as pd
from bengali_fa.synth import write_dataset
from bengali_fa.data import bengali_dls
from bengali_fa.preprocess import default_cache_dir
from bengali_fa.learner import bengali_learner
from bengali_fa.model import BengaliModel
from bengali_fa.loss import MultiHeadLoss
from bengali_fa.predict import predict_parquets
from bengali_fa.bundle import load_bundle
from bengali_fa.train import train, train_config, load_checkpoint
from fastai.callback.core import Callback

T0 = time.time()
dev = torch.device('cpu' if a.cpu else 'cuda')
if not a.cpu and not torch.cuda.is_available(): sys.exit("gpu.py: no CUDA device (use --cpu for a CPU smoke run)")
S = dict(n_train=300, n_test=40, size=32, bs=32, epochs=2, warm=1, model_iters=3) if a.tiny else \
    dict(n_train=8000, n_test=2000, size=128, bs=256, epochs=2, warm=5, model_iters=40)
amp = torch.bfloat16 if dev.type == 'cuda' and torch.cuda.is_bf16_supported() else None
out = Path(a.out) if a.out else Path(__file__).parent/'results'/('gpu_smoke.json' if a.cpu else 'gpu.json')
res = dict(config=vars(a) | S | dict(device=str(dev), amp=str(amp) if amp else 'fp32'), steps={}, errors={},
           gpu=torch.cuda.get_device_name() if dev.type == 'cuda' else None, torch=torch.__version__,
           cuda=torch.version.cuda, cpus=os.cpu_count(), torch_threads=torch.get_num_threads(),
           machine=platform.platform(), load_avg_start=os.getloadavg())

def sync():
    if dev.type == 'cuda': torch.cuda.synchronize()

def save():
    res.update(load_avg_end=os.getloadavg(), total_s=round(time.time() - T0, 1))
    out.parent.mkdir(exist_ok=True); tmp = out.with_suffix('.json.tmp')
    tmp.write_text(json.dumps(res, indent=1, default=str)); tmp.replace(out)

def step(name):
    "Run a step, record its result and seconds; a failing step is recorded and the others still run"
    def deco(f):
        t = time.time(); print(f"[{t - T0:5.0f} s] {name} ...", flush=True)
        try: r = f(); res['steps'][name] = dict(r, seconds=round(time.time() - t, 1)); print(f"        {r}", flush=True)
        except Exception as e:
            traceback.print_exc(); res['errors'][name] = f'{type(e).__name__}: {e}'
        save()
    return deco

# the synthetic set: where the training app's `data_path` looks for it (BENGALI_FA_CACHE)
# (1,000 renders of unseen combinations, as gpu_smoke.json was measured: the default's 5,000 would only add rendering time)
cfg_base = ['train=gpu', 'data.extra_renders=1000', f'data.n_train={S["n_train"]}', f'data.n_test={S["n_test"]}', f'data.size={S["size"]}', f'train.bs={S["bs"]}',
            f'train.epochs={S["epochs"]}', f'runs_dir={tempfile.mkdtemp(prefix="gpu_bench_runs")}', f'device={dev.type}']
src = default_cache_dir()/'synth'/f'n{S["n_train"]}_t{S["n_test"]}_s0'
@step('synthetic set')
def _():
    t = time.time()
    if not (src/'synth_info.json').is_file():
        write_dataset(src, n_train=S['n_train'], n_test=S['n_test'], seed=0, overwrite=src.exists(), progress=False,
                      n_workers=min(16, max(0, (os.cpu_count() or 1) - 1)))
    return dict(path=str(src), images=S['n_train'] + S['n_test'], build_s=round(time.time() - t, 1))

dls = bengali_dls(src, size=S['size'], bs=S['bs'], device=dev, progress=False)

@step('loader')
def _():
    n, t = 0, None
    for i, (x, *ys) in enumerate(dls.train):
        if i == S['warm']: sync(); t = time.perf_counter()
        elif i > S['warm']: n += len(x)
    sync()
    return dict(images_per_s=round(n / (time.perf_counter() - t), 1), batches=i + 1, bs=S['bs'], size=S['size'])

class Timer(Callback):
    "Images/s of the training batches after `warm` (the whole fastai step: loader, augmentation, forward, backward, optimizer)"
    order = 99
    def __init__(self, warm): self.warm = warm
    def before_batch(self):
        if self.training and self.iter == self.warm: sync(); self.t, self.n = time.perf_counter(), 0
    def after_batch(self):
        if self.training and self.iter >= self.warm: self.n += len(self.xb[0])
    def after_train(self): sync(); self.rate = self.n / (time.perf_counter() - self.t)

def model_only(arch):
    "fwd/bwd/AdamW steps of the same model on one batch already on the device (channels_last, bf16 autocast on a GPU)"
    torch.manual_seed(0)
    model, loss = BengaliModel(arch).to(dev), MultiHeadLoss()
    if dev.type == 'cuda': model = model.to(memory_format=torch.channels_last)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3, betas=(0.9, 0.99), eps=1e-5, weight_decay=0.01)
    x = torch.randn(S['bs'], 1, S['size'], S['size'], device=dev)
    if dev.type == 'cuda': x = x.contiguous(memory_format=torch.channels_last)
    ys = [torch.randint(0, n, (S['bs'],), device=dev) for n in (168, 11, 7)]
    def it():
        opt.zero_grad(set_to_none=True)
        with torch.autocast(dev.type, dtype=amp, enabled=amp is not None): l = loss(model(x), *ys)
        l.backward(); opt.step()
    for _ in range(S['warm']): it()
    sync(); t = time.perf_counter()
    for _ in range(S['model_iters']): it()
    sync(); return S['model_iters'] * S['bs'] / (time.perf_counter() - t)

for arch in a.archs.split(','):
    if dev.type == 'cuda': torch.cuda.reset_peak_memory_stats()
    @step(f'train {arch}')
    def _():
        learn = bengali_learner(dls, arch)  # on a GPU: ChannelsLast + MixedPrecision (bf16 where supported)
        learn.metrics = []
        tm = Timer(S['warm'])
        with learn.no_bar(), learn.no_logging(): learn.fit(1, 1e-3, cbs=tm)
        cbs = [type(c).__name__ for c in learn.cbs]
        mem = torch.cuda.max_memory_allocated() / 2**30 if dev.type == 'cuda' else float('nan')
        mo = model_only(arch)
        return dict(peak_memory_gib=round(mem, 2), train_images_per_s=round(tm.rate, 1), model_only_images_per_s=round(mo, 1),
                    overhead_pct=round(100 * (1 - tm.rate / mo), 1), channels_last='ChannelsLast' in cbs,
                    mixed_precision='MixedPrecision' in cbs)

run_full = Path(tempfile.mkdtemp(prefix='gpu_bench_full'))/'run'
@step('train app, 2 epochs')
def _():
    t = time.time()
    with contextlib.redirect_stdout(io.StringIO()): r = train(train_config(cfg_base), run_dir=run_full, progress=False)
    m = pd.read_csv(run_full/'metrics.csv')
    return dict(score=round(r['score'], 4), wall_s=round(time.time() - t, 1), epoch_s=m.seconds.round(1).tolist(),
                train_images=len(dls.train.dataset), valid_images=len(dls.valid.dataset))

@step('predict_parquets')
def _():
    files = sorted(src.glob('test_image_data_*.parquet'))
    n = sum(len(pd.read_parquet(f, columns=['image_id'])) for f in files)
    model, meta = load_bundle(run_full, dev)
    predict_parquets(model, files[:1], meta['preprocessing'], bs=S['bs'], device=dev, progress=False)  # warm-up
    sync(); t = time.perf_counter()
    df = predict_parquets(model, files, meta['preprocessing'], bs=S['bs'], device=dev, progress=False)
    sync(); dt = time.perf_counter() - t
    assert len(df) == n, f"{len(df)} predictions for {n} images"
    return dict(images=n, images_per_s=round(n / dt, 1), note='reading and preprocessing the parquet included')

class Interrupt(Callback):
    "Ctrl-C in the middle of the second epoch"
    order = 99
    def before_batch(self):
        if self.training and self.epoch == 1 and self.iter == max(1, self.n_iter // 2): raise KeyboardInterrupt

run_res = Path(tempfile.mkdtemp(prefix='gpu_bench_resume'))/'run'
@step('resume in the middle of a run')
def _():
    run = run_res
    try:
        with contextlib.redirect_stdout(io.StringIO()): train(train_config(cfg_base), run_dir=run, cbs=[Interrupt()], progress=False)
        raise RuntimeError("the run was not interrupted")
    except KeyboardInterrupt: pass
    done = len(pd.read_csv(run/'metrics.csv'))
    with contextlib.redirect_stdout(io.StringIO()): r = train(train_config(cfg_base + [f'resume={run}']), progress=False)
    full = json.loads((run_full/'result.json').read_text()) if (run_full/'result.json').is_file() else {}
    ma, mb = (pd.read_csv(d/'metrics.csv') for d in (run_full, run))
    opt = load_checkpoint(run/'ckpt'/'last.pth')['opt']
    return dict(epochs_before_interrupt=done, status=r['status'], score=round(r['score'], 4),
                uninterrupted_score=round(full.get('score', float('nan')), 4),
                max_abs_metric_diff=float((ma[['train_loss', 'valid_loss', 'score']] - mb[['train_loss', 'valid_loss', 'score']]).abs().max().max()),
                opt_state_tensors=sum(isinstance(v, torch.Tensor) for s in opt['state'] for v in s.values()))

@step('ensemble of 2 bundles, predict')
def _():
    runs = [run_full, run_res]
    files = sorted(src.glob('test_image_data_*.parquet'))
    sync(); t = time.perf_counter()
    df = predict_parquets(runs, files, bs=S['bs'], device=dev, progress=False)
    sync(); dt = time.perf_counter() - t
    return dict(models=len(runs), images=len(df), images_per_s=round(len(df) / dt, 1), note='two models: each image through both')

print(f"\n{res['gpu'] or 'CPU'}, torch {torch.__version__}, {os.cpu_count()} CPUs, {res['config']['amp']}, total {time.time() - T0:.0f} s\n")
print('| step | result | s |\n|---|---|---|')
for k, v in res['steps'].items(): print(f"| {k} | {', '.join(f'{a}={b}' for a, b in v.items() if a != 'seconds')} | {v['seconds']} |")
for k, v in res['errors'].items(): print(f"| {k} | FAILED: {v} | |")
tr = {k: v for k, v in res['steps'].items() if k.startswith('train ') and 'train_images_per_s' in v}
if 'loader' in res['steps'] and tr:
    ld = res['steps']['loader']['images_per_s']
    res['checks'] = {k: dict(loader_over_train=round(ld / v['train_images_per_s'], 2), loader_ok=ld >= 5 * v['train_images_per_s'],
                             overhead_ok=v['overhead_pct'] <= 10) for k, v in tr.items()}
    print('\nchecks (loader >= 5x training, overhead <= 10%):', json.dumps(res['checks']))
save()
print(f"wrote {out}")
sys.exit(1 if res['errors'] else 0)
