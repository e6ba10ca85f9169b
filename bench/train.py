"""Training benchmark (model issue): fastai overhead and the first regression baseline score.

1. images/s of one training epoch with `bengali_learner(...).fit` vs a plain PyTorch loop on the same model
   architecture, batches (the same `bengali_dls` loader) and optimizer settings (AdamW, constant LR).
2. The validation score (fold 0) reached by xresnet18 at 64 px on a fixed synthetic set for a fixed budget.
Prints a table and writes bench/results/train.json. Usage: python bench/train.py [--n-train 2000 --epochs 3]
"""
import argparse, atexit, json, os, platform, shutil, tempfile, time
from pathlib import Path
import numpy as np, torch
from bengali_fa.synth import write_dataset
from bengali_fa.data import bengali_dls
from bengali_fa.learner import bengali_learner
from bengali_fa.model import BengaliModel
from bengali_fa.loss import MultiHeadLoss

def fastai_epoch(dls, arch, lr):
    learn = bengali_learner(dls, arch)
    learn.metrics = []
    n = len(dls.train) * dls.train.bs
    with learn.no_bar(), learn.no_logging():
        t = time.perf_counter(); learn.fit(1, lr); dt = time.perf_counter() - t
    return n / dt

def plain_epoch(dls, arch, lr):
    torch.manual_seed(0)
    model, loss = BengaliModel(arch), MultiHeadLoss()
    opt = torch.optim.AdamW(model.parameters(), lr=lr, betas=(0.9, 0.99), eps=1e-5, weight_decay=0.01)
    n = 0
    t = time.perf_counter()
    model.train()
    for x, *ys in dls.train:
        opt.zero_grad(); l = loss(model(x), *ys); l.backward(); opt.step(); n += len(x)
    model.eval()
    with torch.no_grad():
        for x, *ys in dls.valid: model(x)
    return n / (time.perf_counter() - t)

if __name__ == '__main__':
    ap = argparse.ArgumentParser()
    ap.add_argument('--n-train', type=int, default=2000); ap.add_argument('--epochs', type=int, default=3)
    ap.add_argument('--size', type=int, default=64); ap.add_argument('--arch', default='xresnet18')
    a = ap.parse_args()
    torch.manual_seed(0); np.random.seed(0)
    tmp = Path(tempfile.mkdtemp(prefix='bengali_fa_bench_')); atexit.register(shutil.rmtree, tmp, True)  # removed however the run ends (but SIGKILL)
    src = write_dataset(tmp/'synth', n_train=a.n_train, n_test=10, seed=0, progress=False, n_workers=2)
    dls = bengali_dls(src, size=a.size, bs=64, cache_dir=tmp/'cache', device='cpu', progress=False, seed=0)
    r_fa, r_pl = fastai_epoch(dls, a.arch, 1e-3), plain_epoch(dls, a.arch, 1e-3)
    torch.manual_seed(0)
    learn = bengali_learner(dls, a.arch)
    t = time.perf_counter()
    with learn.no_bar(): learn.fit_bengali(a.epochs, 4e-3)  # the default schedule: one cycle, every layer at 4e-3
    train_s = time.perf_counter() - t
    names = learn.recorder.metric_names[1:-1]
    final = dict(zip(names, learn.recorder.values[-1]))
    rows = dict(fastai_images_per_s=round(r_fa, 1), plain_images_per_s=round(r_pl, 1),
                overhead_pct=round(100 * (r_pl - r_fa) / r_pl, 1),
                score=round(final['score'], 4), root=round(final['root'], 4), vowel=round(final['vowel'], 4),
                consonant=round(final['consonant'], 4), train_seconds=round(train_s))
    print(f"{'fastai img/s':>13} {'plain img/s':>12} {'overhead %':>11} {'score':>7} {'root':>7} {'vowel':>7} {'consonant':>10} {'train s':>8}")
    print(f"{rows['fastai_images_per_s']:>13} {rows['plain_images_per_s']:>12} {rows['overhead_pct']:>11} {rows['score']:>7} "
          f"{rows['root']:>7} {rows['vowel']:>7} {rows['consonant']:>10} {rows['train_seconds']:>8}")
    out = Path(__file__).parent/'results'/'train.json'; out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(dict(result=rows, config=vars(a) | dict(schedule='one_cycle', lr=4e-3, bs=64, fold=0, seed=0),
                                   per_epoch=[dict(zip(names, map(float, v))) for v in learn.recorder.values],
                                   cpus=os.cpu_count(), torch_threads=torch.get_num_threads(), machine=platform.platform()), indent=1))
