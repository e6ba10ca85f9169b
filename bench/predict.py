"""Prediction benchmark (inference issue): images/s of `predict_parquets` end to end (parquet reading, preprocessing,
model, TTA) for the training app's default model (xresnet18 at 64 px; untrained: speed only), without and with TTA,
and the projected time for the competition's ~200,000 test images (Kaggle limits: 2 h GPU, 9 h CPU).
Also the read+preprocess rate alone (the CPU part that a GPU cannot speed up) and the model alone. The machine's load
average is recorded: other processes on a shared machine slow every figure.
Prints a markdown table and writes bench/results/predict.json.
Usage: python bench/predict.py [--n-test 2000 --size 64 --tta 4 --device cpu --device cuda]
(default devices: cpu, plus cuda when available).
"""
import argparse, atexit, json, os, platform, shutil, tempfile, time
from pathlib import Path
import numpy as np, torch
from bengali_fa.synth import write_dataset
from bengali_fa.parquet import iter_parquet_images
from bengali_fa.preprocess import preprocess_images
from bengali_fa.model import BengaliModel
from bengali_fa.predict import predict_parquets, parquet_files, tta_views, _channels_last, _prediction_net
from bengali_fa.learner import autocast_dtype as _autocast_dtype

N_KAGGLE = 200_000

def read_prep_rate(files, pre):
    t, n = time.perf_counter(), 0
    for f in files:
        for ids, imgs in iter_parquet_images(f, 2048):
            preprocess_images(imgs, pre['size'], pre['threshold'], pre['margin'], pre['edge']); n += len(ids)
    return n / (time.perf_counter() - t)

def model_rate(model, n, size, bs, device):
    "The model alone as predict_parquets runs it (BatchNorm folded, its precision and memory layout) on inputs already in memory"
    dev = torch.device(device); amp = _autocast_dtype(dev)
    net, x = _prediction_net(model, dev, amp), torch.randn(bs, 1, size, size, device=device)
    if _channels_last(dev, amp): x = x.contiguous(memory_format=torch.channels_last)
    if device.startswith('cuda'): torch.cuda.synchronize()
    t = time.perf_counter()
    with torch.inference_mode(), torch.autocast(dev.type, dtype=amp, enabled=amp is not None):
        for _ in range(max(n // bs, 1)): net(x)
    if device.startswith('cuda'): torch.cuda.synchronize()
    return max(n // bs, 1) * bs / (time.perf_counter() - t)

def predict_rate(model, files, pre, bs, device, tta, n):
    if device.startswith('cuda'): torch.cuda.synchronize()
    t = time.perf_counter()
    df = predict_parquets(model, files, pre, bs=bs, device=device, tta=tta, progress=False)
    if device.startswith('cuda'): torch.cuda.synchronize()
    assert len(df) == n
    return n / (time.perf_counter() - t)

if __name__ == '__main__':
    ap = argparse.ArgumentParser()
    ap.add_argument('--n-test', type=int, default=2000); ap.add_argument('--size', type=int, default=64)
    ap.add_argument('--arch', default='xresnet18'); ap.add_argument('--bs', type=int, default=256)
    ap.add_argument('--tta', type=int, default=4); ap.add_argument('--device', action='append')
    ap.add_argument('--data', help='an existing competition-layout folder (default: a new synthetic one)')
    a = ap.parse_args()
    devices = a.device or (['cpu'] + (['cuda'] if torch.cuda.is_available() else []))
    tmp = Path(tempfile.mkdtemp(prefix='bengali_fa_bench_')); atexit.register(shutil.rmtree, tmp, True)  # removed however the run ends (but SIGKILL)
    src = Path(a.data) if a.data else write_dataset(tmp/'synth', n_train=20, n_test=a.n_test, seed=0, progress=False, n_workers=2)
    files = parquet_files(src)
    n = sum(len(i) for f in files for i, _ in iter_parquet_images(f, 4096))
    pre = dict(size=a.size, threshold=80, margin=8, edge=5, mean=0.06, std=0.2)
    torch.manual_seed(0)
    model = BengaliModel(a.arch).eval()
    load0 = os.getloadavg()
    rows = [dict(device='cpu', what='read + preprocess only', tta_views=0, images_per_s=read_prep_rate(files, pre))]
    for dev in devices:
        model.to(dev)
        with torch.inference_mode():  # warm up (cuDNN autotuning, allocator, threads)
            x = torch.randn(a.bs, 1, a.size, a.size, device=dev)
            with torch.autocast(torch.device(dev).type, enabled=dev.startswith('cuda')): model(x)
        rows.append(dict(device=dev, what='model only (inputs in memory)', tta_views=1, images_per_s=model_rate(model, n, a.size, a.bs, dev)))
        for tta in (0, a.tta):
            rows.append(dict(device=dev, what='predict_parquets', tta_views=len(tta_views(tta)),
                             images_per_s=predict_rate(model, files, pre, a.bs, dev, tta, n)))
    for r in rows:
        r['images_per_s'] = round(r['images_per_s'], 1)
        r['projected_minutes_200k'] = round(N_KAGGLE / r['images_per_s'] / 60, 1)
    print(f"{n} synthetic test images, {a.arch} at {a.size} px, bs {a.bs}, {os.cpu_count()} CPUs, torch threads {torch.get_num_threads()}\n")
    print('| device | what | TTA views | images/s | 200k images (min) |\n|---|---|---|---|---|')
    for r in rows: print(f"| {r['device']} | {r['what']} | {r['tta_views']} | {r['images_per_s']} | {r['projected_minutes_200k']} |")
    gpu = torch.cuda.get_device_name() if torch.cuda.is_available() else None
    out = Path(__file__).parent/'results'/'predict.json'; out.parent.mkdir(exist_ok=True)
    tmp_out = out.with_suffix('.json.tmp')
    tmp_out.write_text(json.dumps(dict(result=rows, config=vars(a) | dict(n_images=n, preprocessing=pre), cpus=os.cpu_count(),
                                       torch_threads=torch.get_num_threads(), gpu=gpu, machine=platform.platform(),
                                       load_avg_start_end=[load0, os.getloadavg()]), indent=1))
    tmp_out.replace(out)
